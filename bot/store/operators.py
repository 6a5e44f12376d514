"""Departments and operators, as much as the queue needs; the panel owns authentication."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Department, Operator, OperatorRole
from bot.store.rows import insert_or_get


async def ensure_department(session: AsyncSession, key: str, name: str | None = None) -> Department:
    """The department with this key (from config.yml), created if new. Does not commit."""
    department, created = await insert_or_get(
        session, Department(key=key, name=name or key), select(Department).where(Department.key == key)
    )
    if not created and name is not None and department.name != name:
        department.name = name
        await session.flush()
    return department


async def create_operator(
    session: AsyncSession,
    login: str,
    display_name: str,
    *,
    role: OperatorRole = OperatorRole.OPERATOR,
    password_hash: str | None = None,
    department_id: int | None = None,
    photo_url: str | None = None,
) -> Operator:
    """Add an operator account. Does not commit; a taken login fails on commit (unique)."""
    operator = Operator(
        login=login,
        display_name=display_name,
        role=role,
        password_hash=password_hash,
        department_id=department_id,
        photo_url=photo_url,
        active=True,
    )
    session.add(operator)
    await session.flush()
    return operator


async def operator_by_login(session: AsyncSession, login: str) -> Operator | None:
    result = await session.execute(select(Operator).where(Operator.login == login))
    return result.scalar_one_or_none()
