"""Labels operators put on dialogues ("возврат", "vip", "оптовик"), and the queue filtered by one.

A label is a short word or phrase in any alphabet, stored in one normal form (trimmed,
inner spaces collapsed, lower case), so "VIP" and "vip " are one label. A conversation has
at most ``MAX_LABELS``; the panel offers the labels already in use.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n.text import Text
from bot.store.db import dialect_of
from bot.store.errors import InputRejected
from bot.store.models import ConversationLabel
from bot.store.prepared import insert_ignoring_conflict

MAX_LABEL_CHARS = 40
MAX_LABELS = 20
LABEL = re.compile(r"^[^\W_][\w .#&+-]*$")


def normal_label(text: str) -> str:
    """The label's one form; ``InputRejected`` (a ``Text``) for an empty, long or odd one."""
    label = " ".join(text.split()).casefold()
    if not label:
        raise InputRejected(Text("a label cannot be empty"))
    if len(label) > MAX_LABEL_CHARS:
        raise InputRejected(Text("a label is at most {n} characters", n=MAX_LABEL_CHARS))
    if not LABEL.match(label):
        raise InputRejected(
            Text("a label starts with a letter or digit and has letters, digits, spaces and - . # & + only")
        )
    return label


async def add_label(
    session: AsyncSession, conversation_id: int, text: str, *, operator_id: int | None, now: datetime
) -> str:
    """Put a label on a conversation (again is no change); the label in its normal form. Does not commit."""
    label = normal_label(text)
    have = await labels_of(session, [conversation_id])
    if label not in have.get(conversation_id, []) and len(have.get(conversation_id, [])) >= MAX_LABELS:
        raise InputRejected(Text("a dialogue has at most {n} labels", n=MAX_LABELS))
    insert = insert_ignoring_conflict(dialect_of(session), ConversationLabel, "conversation_id", "label")
    await session.execute(
        insert.values(conversation_id=conversation_id, label=label, operator_id=operator_id, created_at=now)
    )
    return label


async def remove_label(session: AsyncSession, conversation_id: int, text: str) -> bool:
    """Take a label off; True when it was there. Does not commit."""
    label = " ".join(text.split()).casefold()
    result = await session.execute(
        delete(ConversationLabel).where(
            ConversationLabel.conversation_id == conversation_id, ConversationLabel.label == label
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def labels_of(session: AsyncSession, conversation_ids: list[int] | set[int]) -> dict[int, list[str]]:
    """Each conversation's labels, alphabetically (conversations without any are left out)."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(ConversationLabel.conversation_id, ConversationLabel.label)
        .where(ConversationLabel.conversation_id.in_(set(conversation_ids)))
        .order_by(ConversationLabel.conversation_id, ConversationLabel.label)
    )
    found: dict[int, list[str]] = {}
    for conversation_id, label in rows.all():
        found.setdefault(conversation_id, []).append(label)
    return found


async def labelled(session: AsyncSession, label: str) -> set[int]:
    """The conversations that carry ``label`` (in any form: it is normalised)."""
    rows = await session.scalars(
        select(ConversationLabel.conversation_id).where(
            ConversationLabel.label == " ".join(label.split()).casefold()
        )
    )
    return set(rows.all())


async def labels_in_use(session: AsyncSession, limit: int = 200) -> list[tuple[str, int]]:
    """Every label with how many dialogues carry it, the most used first."""
    count = func.count(ConversationLabel.conversation_id)
    rows = await session.execute(
        select(ConversationLabel.label, count)
        .group_by(ConversationLabel.label)
        .order_by(count.desc(), ConversationLabel.label)
        .limit(limit)
    )
    return [(label, int(n)) for label, n in rows.all()]
