"""The JSON shapes of the panel API (docs/panel.md): tickets, messages, notes, operators.

Customer text goes out verbatim: JSON is data, and escaping it is the page's job
(textContent), so ``<script>`` arrives as the customer typed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import Field

from bot.server.lifespan import ServerState
from bot.store import Customer, HistoryEntry, Operator, OperatorNote, OperatorRole, Sender
from bot.store.buttons import buttons_of, other_attachments
from bot.store.roles import WORKING_ROLES
from bot.store.views import TicketView
from handoff.gender import grammatical_gender

MAX_ROW_ID = 2**31 - 1
"""The largest id a row can have (PostgreSQL INTEGER): a larger one in a request is a 422, never a query."""
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id")]
"""A row id in the path (``/api/tickets/{ticket_id}``)."""
BodyRowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
"""A row id in a JSON body."""


def ticket_json(view: TicketView, now: datetime) -> dict[str, Any]:
    ticket, conversation = view.ticket, view.conversation
    note = dict(ticket.note or {})
    return {
        "ticket_id": ticket.id,
        "conversation_id": conversation.id,
        "customer_id": conversation.customer_id,
        "customer_name": view.customer.display_name,
        "channel": conversation.channel,
        "status": ticket.status.value,
        "priority": ticket.priority,
        "reason": ticket.reason,
        "waiting_seconds": round(max(0.0, (now - ticket.created_at).total_seconds()), 1),
        "department": (
            {"key": view.department.key, "name": view.department.name} if view.department else None
        ),
        "last_customer_message": view.last_customer_message,
        "intent": note.get("intent"),
        "confidence": note.get("confidence"),
        "operator": (
            {"id": view.operator.id, "display_name": view.operator.display_name} if view.operator else None
        ),
    }


def sender_name(
    sender: Sender, operator_id: int | None, customer: Customer | None, names: dict[int, str], label: str
) -> str | None:
    if sender == Sender.CUSTOMER:
        return customer.display_name if customer else None
    if sender == Sender.OPERATOR:
        return names.get(operator_id or 0)
    return label  # the bot and system notices speak as the bot, visibly


def message_json(
    entry: HistoryEntry, customer: Customer | None, names: dict[int, str], state: ServerState
) -> dict[str, Any]:
    message = entry.message
    intent = (message.nlu or {}).get("intent") or {}
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "channel": entry.channel,
        "sender": message.sender.value,
        "sender_name": sender_name(
            message.sender, message.operator_id, customer, names, state.config.bot.label
        ),
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "intent": intent.get("name") if message.sender == Sender.CUSTOMER else None,
        "confidence": intent.get("confidence") if message.sender == Sender.CUSTOMER else None,
        "attachments": other_attachments(message.attachments),
        "buttons": buttons_of(message.attachments),  # the response buttons the customer was offered
    }


def note_json(note: OperatorNote, author: str | None) -> dict[str, Any]:
    return {"id": note.id, "author": author, "text": note.text, "created_at": note.created_at.isoformat()}


def operator_json(operator: Operator, roles: frozenset[OperatorRole] | None = None) -> dict[str, Any]:
    """An account as colleagues see it: ``role`` its own, ``roles`` with the granted ones,
    ``can_work``: takes dialogues (a transfer target)."""
    held = roles if roles is not None else frozenset({operator.role})
    return {
        "id": operator.id,
        "login": operator.login,
        "display_name": operator.display_name,
        "role": operator.role.value,
        "roles": sorted(role.value for role in held),
        "can_work": bool(held & WORKING_ROLES),
        "status": operator.status.value,
        "photo_url": operator.photo_url,
        # what sentences about them agree with: their setting, else their first name's; None: neutral
        "grammatical_gender": grammatical_gender(operator),
    }
