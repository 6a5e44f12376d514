"""Private operator notes on a conversation: for colleagues, never sent to the customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.conversations import check_text
from bot.store.errors import InputRejected
from bot.store.models import Operator, OperatorNote


async def add_note(
    session: AsyncSession, conversation_id: int, operator_id: int | None, text: str, *, now: datetime
) -> OperatorNote:
    """Store a note (size-limited like a message). Does not commit."""
    check_text(text)
    if not text.strip():
        raise InputRejected("the note is empty")
    note = OperatorNote(conversation_id=conversation_id, operator_id=operator_id, text=text, created_at=now)
    session.add(note)
    await session.flush()
    return note


async def notes_of(session: AsyncSession, conversation_id: int) -> list[tuple[OperatorNote, str | None]]:
    """A conversation's notes with their authors' names, oldest first."""
    result = await session.execute(
        select(OperatorNote, Operator.display_name)
        .outerjoin(Operator, Operator.id == OperatorNote.operator_id)
        .where(OperatorNote.conversation_id == conversation_id)
        .order_by(OperatorNote.id)
    )
    return [(note, name) for note, name in result.all()]
