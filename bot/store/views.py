"""Read models for the operator panel: tickets and messages with the names around them.

One query per kind of related row (conversations, customers, departments, operators,
last messages) for a whole list, never one per ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    Conversation,
    Customer,
    Department,
    HandoffTicket,
    Message,
    Operator,
    Sender,
)


@dataclass(frozen=True)
class TicketView:
    ticket: HandoffTicket
    conversation: Conversation
    customer: Customer
    department: Department | None
    operator: Operator | None
    last_customer_message: str | None


async def _by_id(session: AsyncSession, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = await session.execute(select(model).where(model.id.in_(ids)))
    return {row.id: row for row in rows.scalars()}


async def ticket_views(session: AsyncSession, tickets: Sequence[HandoffTicket]) -> list[TicketView]:
    """The tickets with their conversation, customer, department, operator and last customer words."""
    conversations = await _by_id(session, Conversation, {t.conversation_id for t in tickets})
    customers = await _by_id(session, Customer, {c.customer_id for c in conversations.values()})
    departments = await _by_id(session, Department, {t.department_id for t in tickets if t.department_id})
    operators = await _by_id(session, Operator, {t.operator_id for t in tickets if t.operator_id})
    last: dict[int, str] = {}
    if conversations:
        newest = (
            select(func.max(Message.id))
            .where(Message.conversation_id.in_(conversations), Message.sender == Sender.CUSTOMER)
            .group_by(Message.conversation_id)
        )
        rows = await session.execute(
            select(Message.conversation_id, Message.text).where(Message.id.in_(newest))
        )
        last = {conversation_id: text for conversation_id, text in rows.all()}
    views = []
    for ticket in tickets:
        conversation = conversations[ticket.conversation_id]
        views.append(
            TicketView(
                ticket,
                conversation,
                customers[conversation.customer_id],
                departments.get(ticket.department_id) if ticket.department_id else None,
                operators.get(ticket.operator_id) if ticket.operator_id else None,
                last.get(ticket.conversation_id),
            )
        )
    return views


async def latest_ticket(session: AsyncSession, conversation_id: int) -> HandoffTicket | None:
    """The conversation's newest ticket, open or not."""
    result = await session.execute(
        select(HandoffTicket)
        .where(HandoffTicket.conversation_id == conversation_id)
        .order_by(HandoffTicket.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def operator_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    return {op.id: op.display_name for op in (await _by_id(session, Operator, ids)).values()}


@dataclass(frozen=True)
class FilterChoices:
    """What the dashboard's filters offer: every stored department, channel and account."""

    departments: list[tuple[str, str]]  # (key, stored name)
    channels: list[str]
    accounts: list[tuple[str, str]]  # (login, display name), by display name


async def filter_choices(session: AsyncSession) -> FilterChoices:
    """The departments, channels and operator accounts the dashboard can be filtered by."""
    stored = await session.execute(select(Department.key, Department.name))
    departments = [(key, name) for key, name in stored]
    channels = list((await session.scalars(select(Conversation.channel).distinct())).all())
    accounts = [
        (login, name)
        for login, name in await session.execute(
            select(Operator.login, Operator.display_name).order_by(Operator.display_name, Operator.login)
        )
    ]
    return FilterChoices(departments, channels, accounts)
