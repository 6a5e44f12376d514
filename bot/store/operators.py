"""Departments and operators, as much as the queue needs; the panel owns authentication."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.models import (
    Department,
    HandoffTicket,
    Operator,
    OperatorRole,
    OperatorSession,
    OperatorStatus,
    TicketStatus,
)
from bot.store.prepared import Driver, driver_for, insert_ignoring_conflict, run
from bot.store.roles import WORKING_ROLES, having_role
from bot.store.rows import affected


async def ensure_department(where: AsyncSession | Driver, key: str, name: str | None = None) -> int:
    """The id of the department with this key (from config.yml), created if new. Does not commit.

    Two processes creating it at once make one row: the loser reads the winner's.
    """
    driver = await driver_for(where)
    found = await run(driver, select(Department.id, Department.name).where(Department.key == key))
    if not found:
        new = insert_ignoring_conflict(driver.dialect.name, Department, "key").values(
            key=key, name=name or key
        )
        await run(driver, new)
        found = await run(driver, select(Department.id, Department.name).where(Department.key == key))
    department_id, stored_name = found[0]
    if name is not None and stored_name != name:
        await run(driver, update(Department).where(Department.id == department_id).values(name=name))
    return int(department_id)


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


async def operator_by_id(session: AsyncSession, operator_id: int) -> Operator | None:
    """The account with this id, active or not."""
    return await session.get(Operator, operator_id)


async def working_operator(session: AsyncSession, operator_id: int) -> Operator | None:
    """The account, if it is active and may take dialogues (a transfer's target)."""
    result = await session.execute(
        select(Operator).where(
            Operator.id == operator_id, Operator.active.is_(True), having_role(WORKING_ROLES)
        )
    )
    return result.scalar_one_or_none()


async def lock_operator(session: AsyncSession, operator_id: int) -> Operator | None:
    """The operator, row-locked on PostgreSQL until commit: checks of their workload hold until then.

    (On SQLite the session's BEGIN IMMEDIATE already serialises writers.)
    """
    query = select(Operator).where(Operator.id == operator_id).execution_options(populate_existing=True)
    if dialect_of(session) == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def claimed_count(session: AsyncSession, operator_id: int) -> int:
    """How many dialogues an operator holds now."""
    count = await session.scalar(
        select(func.count(HandoffTicket.id)).where(
            HandoffTicket.status == TicketStatus.CLAIMED, HandoffTicket.operator_id == operator_id
        )
    )
    return int(count or 0)


async def list_operators(session: AsyncSession, *, include_inactive: bool = False) -> list[Operator]:
    """Operator accounts by login (disabled ones only when asked)."""
    query = select(Operator).order_by(Operator.login)
    if not include_inactive:
        query = query.where(Operator.active.is_(True))
    return list((await session.execute(query)).scalars())


async def set_status(session: AsyncSession, operator_id: int, status: OperatorStatus) -> bool:
    """Online or away; True when it changed. Does not commit."""
    result = await session.execute(
        update(Operator).where(Operator.id == operator_id, Operator.status != status).values(status=status)
    )
    return affected(result) == 1


async def available_operators(session: AsyncSession, *, now: datetime) -> list[tuple[Operator, int]]:
    """Operators who can take a dialogue now, by id, with how many they hold.

    Available: active, online, working role (operator or admin), and logged in (a
    session that has not expired): a closed browser tab does not keep collecting work.
    """
    held = (
        select(func.count(HandoffTicket.id))
        .where(HandoffTicket.status == TicketStatus.CLAIMED, HandoffTicket.operator_id == Operator.id)
        .scalar_subquery()
    )
    logged_in = (
        select(OperatorSession.id)
        .where(OperatorSession.operator_id == Operator.id, OperatorSession.expires_at > now)
        .exists()
    )
    result = await session.execute(
        select(Operator, held)
        .where(
            Operator.active.is_(True),
            Operator.status == OperatorStatus.ONLINE,
            having_role(WORKING_ROLES),
            logged_in,
        )
        .order_by(Operator.id)
    )
    return [(operator, int(count or 0)) for operator, count in result.all()]
