"""Quick phrases: operators' canned answers, kept in the store and managed by admins in the panel.

Shortcuts are unique among live phrases (a partial unique index); a deleted phrase keeps
its row with ``deleted_at``, so seeding from config.yml happens once per database and never
brings back what an admin removed. The functions do not commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.errors import InputRejected
from bot.store.models import QuickPhrase


class ShortcutTaken(InputRejected):
    """Another live phrase has this shortcut."""


async def live_phrases(session: AsyncSession) -> list[QuickPhrase]:
    """The phrases operators see, in their order."""
    query = (
        select(QuickPhrase)
        .where(QuickPhrase.deleted_at.is_(None))
        .order_by(QuickPhrase.position, QuickPhrase.id)
    )
    return list((await session.scalars(query)).all())


async def count_live(session: AsyncSession) -> int:
    found = await session.scalar(select(func.count(QuickPhrase.id)).where(QuickPhrase.deleted_at.is_(None)))
    return int(found or 0)


async def seed_phrases(session: AsyncSession, phrases: Mapping[str, str], *, now: datetime) -> int:
    """Store config.yml's phrases when the table has never held any; returns how many were added."""
    if await session.scalar(select(QuickPhrase.id).limit(1)) is not None:
        return 0
    for position, (shortcut, text) in enumerate(phrases.items()):
        session.add(
            QuickPhrase(shortcut=shortcut, text=text, position=position, created_at=now, updated_at=now)
        )
    try:
        await session.flush()
    except IntegrityError:  # another process seeded at the same moment
        await session.rollback()
        return 0
    return len(phrases)


async def _shortcut_free(session: AsyncSession, shortcut: str, phrase_id: int | None = None) -> None:
    query = select(QuickPhrase.id).where(QuickPhrase.shortcut == shortcut, QuickPhrase.deleted_at.is_(None))
    if phrase_id is not None:
        query = query.where(QuickPhrase.id != phrase_id)
    if await session.scalar(query) is not None:
        raise ShortcutTaken(f"the shortcut {shortcut} is taken")


async def add_phrase(
    session: AsyncSession, shortcut: str, text: str, *, by: int | None, now: datetime
) -> QuickPhrase:
    """A new phrase at the end of the list; ``ShortcutTaken`` when its shortcut is in use."""
    await _shortcut_free(session, shortcut)
    last = await session.scalar(select(func.max(QuickPhrase.position)))
    phrase = QuickPhrase(
        shortcut=shortcut,
        text=text,
        position=int(last or 0) + 1,
        created_at=now,
        updated_at=now,
        updated_by=by,
    )
    session.add(phrase)
    await session.flush()
    return phrase


async def live_phrase(session: AsyncSession, phrase_id: int) -> QuickPhrase | None:
    phrase = await session.get(QuickPhrase, phrase_id)
    return phrase if phrase is not None and phrase.deleted_at is None else None


async def change_phrase(
    session: AsyncSession, phrase: QuickPhrase, shortcut: str, text: str, *, by: int | None, now: datetime
) -> QuickPhrase:
    await _shortcut_free(session, shortcut, phrase.id)
    phrase.shortcut, phrase.text, phrase.updated_at, phrase.updated_by = shortcut, text, now, by
    await session.flush()
    return phrase


async def delete_phrase(session: AsyncSession, phrase: QuickPhrase, *, by: int | None, now: datetime) -> None:
    phrase.deleted_at, phrase.updated_at, phrase.updated_by = now, now, by
    await session.flush()
