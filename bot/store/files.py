"""Rows of stored files (``bot.files``): recording them, linking them to their message, access checks.

A file's row says which conversation and message it belongs to; that is what decides who
may read it: a customer through a channel identity of that conversation's customer
(``file_for_sender``), an operator through the panel (``file_row``; the route checks the
role). A file is recorded before its message exists (the upload comes first), linked when
the message is stored (``link_files``); one never linked is an orphan (``orphans``) that the
maintenance sweep deletes with its bytes. The functions do not commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ChannelIdentity, Conversation, Direction, Message, Sender, StoredFileRow, utcnow


async def add_file(
    session: AsyncSession,
    *,
    file_id: str,
    name: str,
    mime: str,
    size: int,
    sha256: str,
    backend: str,
    channel: str,
    sender: Sender,
    conversation_id: int | None = None,
    message_id: int | None = None,
    operator_id: int | None = None,
    source_id: str | None = None,
    now: datetime | None = None,
) -> StoredFileRow:
    """Record a file the store has just kept (its bytes are already there)."""
    row = StoredFileRow(
        id=file_id,
        name=name[:255],
        mime=mime[:127],
        size=size,
        sha256=sha256,
        backend=backend,
        channel=channel,
        sender=sender,
        conversation_id=conversation_id,
        message_id=message_id,
        operator_id=operator_id,
        source_id=source_id[:255] if source_id else None,
        created_at=now or utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def link_files(
    session: AsyncSession, file_ids: Sequence[str], *, conversation_id: int, message_id: int
) -> int:
    """Attach files to the message they were sent in; only files not linked yet. Returns how many."""
    if not file_ids:
        return 0
    result = await session.execute(
        update(StoredFileRow)
        .where(StoredFileRow.id.in_(list(file_ids)), StoredFileRow.message_id.is_(None))
        .values(conversation_id=conversation_id, message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def link_inbound_files(
    session: AsyncSession, channel: str, external_id: str, file_ids: Sequence[str]
) -> int:
    """Link files to the customer message that carries them (after the turn stored it).

    The message is found among the sender's own messages in ``channel`` by the file's id in
    its attachments, so it works for every channel, with or without the platform's message
    id; a file no message of this sender carries stays unlinked. Returns how many were linked.
    """
    linked = 0
    for file_id in file_ids:
        found = (
            await session.execute(
                select(Message.id, Message.conversation_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
                .where(
                    ChannelIdentity.channel == channel,
                    ChannelIdentity.external_id == external_id,
                    Conversation.channel == channel,
                    Message.direction == Direction.IN,
                    cast(Message.attachments, String).contains(file_id, autoescape=True),
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).first()
        if found is not None:
            linked += await link_files(session, [file_id], conversation_id=found[1], message_id=found[0])
    return linked


async def file_row(session: AsyncSession, file_id: str) -> StoredFileRow | None:
    """The file's row, whoever asks (operators' routes check the role themselves)."""
    found: StoredFileRow | None = await session.get(StoredFileRow, file_id)
    return found


async def file_for_sender(
    session: AsyncSession, file_id: str, channel: str, external_id: str
) -> StoredFileRow | None:
    """The file, if it belongs to a conversation of the customer behind ``(channel, external_id)``.

    None for anyone else's file, an unlinked one, or an unknown id: the caller answers
    404 in every case, so a stranger learns nothing about which ids exist.
    """
    found: StoredFileRow | None = await session.scalar(
        select(StoredFileRow)
        .join(Conversation, Conversation.id == StoredFileRow.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
        .where(
            StoredFileRow.id == file_id,
            StoredFileRow.message_id.is_not(None),
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
        )
        .limit(1)
    )
    return found


async def orphans(session: AsyncSession, *, older_than: datetime, limit: int = 100) -> list[StoredFileRow]:
    """Files no message holds (never linked, the message deleted or blanked, the customer forgotten)."""
    rows = await session.scalars(
        select(StoredFileRow)
        .where(StoredFileRow.message_id.is_(None), StoredFileRow.created_at < older_than)
        .order_by(StoredFileRow.created_at)
        .limit(limit)
    )
    return list(rows.all())


async def forget_files(session: AsyncSession, file_ids: Sequence[str]) -> None:
    """Delete the rows (after their bytes were deleted from the file store)."""
    if file_ids:
        await session.execute(
            delete(StoredFileRow)
            .where(StoredFileRow.id.in_(list(file_ids)))
            .execution_options(synchronize_session=False)
        )
