"""Departments as the live parts of the server name them: by their key in config.yml."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Department, Operator


async def department_key_of(session: AsyncSession, operator_id: int) -> str | None:
    """The key of the department an operator serves; None: every department (or no such operator)."""
    found = await session.scalar(
        select(Department.key)
        .join(Operator, Operator.department_id == Department.id)
        .where(Operator.id == operator_id)
    )
    return str(found) if found is not None else None
