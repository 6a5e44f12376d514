"""Panel login sessions: created at login, found by the cookie's token hash, revoked at logout.

Only the SHA-256 of a session token is stored; the token itself lives in the
operator's cookie. Revoking (logout, a disabled account, a new password) deletes rows,
so a copied cookie stops working at once on every server process.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Operator, OperatorSession
from bot.store.rows import affected


async def create_session(
    session: AsyncSession,
    operator_id: int,
    token_hash: str,
    csrf_token: str,
    *,
    now: datetime,
    expires_at: datetime,
) -> OperatorSession:
    """Store a new login. Does not commit."""
    row = OperatorSession(
        operator_id=operator_id,
        token_hash=token_hash,
        csrf_token=csrf_token,
        created_at=now,
        expires_at=expires_at,
        last_seen_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def find_session(
    session: AsyncSession, token_hash: str, *, now: datetime
) -> tuple[OperatorSession, Operator] | None:
    """The live session with this token hash and its (active) operator; None when expired or revoked."""
    result = await session.execute(
        select(OperatorSession, Operator)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(
            OperatorSession.token_hash == token_hash,
            OperatorSession.expires_at > now,
            Operator.active.is_(True),
        )
    )
    row = result.first()
    return None if row is None else (row[0], row[1])


async def touch_session(session: AsyncSession, session_id: int, now: datetime) -> None:
    """Record activity (for the admin's "last seen"). Does not commit."""
    await session.execute(
        update(OperatorSession).where(OperatorSession.id == session_id).values(last_seen_at=now)
    )


async def delete_session(session: AsyncSession, token_hash: str) -> int:
    """Log one session out. Does not commit."""
    result = await session.execute(delete(OperatorSession).where(OperatorSession.token_hash == token_hash))
    return affected(result)


async def revoke_sessions(session: AsyncSession, operator_id: int) -> int:
    """Log an operator out everywhere (disabled, new password). Does not commit."""
    result = await session.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator_id))
    return affected(result)


async def live_sessions(session: AsyncSession, operator_id: int, *, now: datetime) -> int:
    """How many unexpired logins an operator has (logout of the last one makes them away)."""
    rows = await session.execute(
        select(OperatorSession.id).where(
            OperatorSession.operator_id == operator_id, OperatorSession.expires_at > now
        )
    )
    return len(rows.all())


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete sessions past their expiry. Does not commit."""
    result = await session.execute(delete(OperatorSession).where(OperatorSession.expires_at <= now))
    return affected(result)
