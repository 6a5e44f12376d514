"""Which roles an account has: its own (``Operator.role``) and those an admin granted on top.

Rights are the union: an operator granted ``editor`` takes dialogues and edits the
bot's data; an editor is not an operator unless granted that too. Keeping the account's
own role as a column (not only rows here) keeps every existing query and the CLI's
``--role`` meaning what they meant; a grant records who gave it and when.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Operator, OperatorRole, OperatorRoleGrant
from bot.store.rows import affected, insert_or_get

WORKING_ROLES = frozenset({OperatorRole.OPERATOR, OperatorRole.ADMIN})
"""Who takes dialogues and sees the live feed."""
EDITING_ROLES = frozenset({OperatorRole.EDITOR, OperatorRole.ADMIN})
"""Who sees the editor inbox (every customer's unanswered text), labels, retrains, publishes."""


async def roles_of(session: AsyncSession, operator: Operator) -> frozenset[OperatorRole]:
    granted = await session.scalars(
        select(OperatorRoleGrant.role).where(OperatorRoleGrant.operator_id == operator.id)
    )
    return frozenset({operator.role, *granted})


async def roles_by_operator(
    session: AsyncSession, operators: Iterable[Operator]
) -> dict[int, frozenset[OperatorRole]]:
    """Every listed account's roles, in one query."""
    listed = list(operators)
    found: dict[int, set[OperatorRole]] = {operator.id: {operator.role} for operator in listed}
    if listed:
        rows = await session.execute(
            select(OperatorRoleGrant.operator_id, OperatorRoleGrant.role).where(
                OperatorRoleGrant.operator_id.in_(list(found))
            )
        )
        for operator_id, role in rows.all():
            found[operator_id].add(role)
    return {key: frozenset(value) for key, value in found.items()}


def having_role(roles: Collection[OperatorRole]) -> ColumnElement[bool]:
    """A WHERE condition on ``Operator``: the account has one of ``roles``, its own or granted."""
    granted = exists().where(
        OperatorRoleGrant.operator_id == Operator.id, OperatorRoleGrant.role.in_(list(roles))
    )
    return Operator.role.in_(list(roles)) | granted


async def grant_role(
    session: AsyncSession, operator_id: int, role: OperatorRole, *, by: int | None, now: datetime
) -> bool:
    """Give an account one more role; False when it had that grant already. Does not commit."""
    lookup = select(OperatorRoleGrant).where(
        OperatorRoleGrant.operator_id == operator_id, OperatorRoleGrant.role == role
    )
    _, created = await insert_or_get(
        session, OperatorRoleGrant(operator_id=operator_id, role=role, granted_by=by, granted_at=now), lookup
    )
    return created


async def revoke_role(session: AsyncSession, operator_id: int, role: OperatorRole) -> bool:
    """Take a granted role back; False when there was no such grant. Does not commit."""
    result = await session.execute(
        delete(OperatorRoleGrant).where(
            OperatorRoleGrant.operator_id == operator_id, OperatorRoleGrant.role == role
        )
    )
    return affected(result) > 0
