"""One conversation as the operator sees it, private notes, and lead cards for the CRM.

The history is the customer's whole history on every channel (the bot's part too),
oldest first: the channels of this one customer record. A contact the customer typed
that another customer has is only a suggestion on the card (``possible_matches``), never
a reason to show the other's history; an operator merges it explicitly
(``bot.server.routes.api_customers``). A lead card goes to the CRM through the outbox, like the bot's own
leads: stored with its push in one transaction, retried until delivered.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from bot.i18n.catalog import Translator
from bot.i18n.names import Names
from bot.i18n.text import Text
from bot.server.auth import OperatorWorker
from bot.server.deps import ReadyStateDep
from bot.server.i18n import names_for, texts_for
from bot.server.lifespan import ServerState
from bot.server.routes.api_shapes import RowId, message_json, note_json
from bot.store import (
    MAX_MESSAGE_CHARS,
    Conversation,
    Customer,
    InputRejected,
    create_lead,
    history,
    identities_of,
    lead_card,
)
from bot.store.labels import labels_of
from bot.store.matches import possible_matches
from bot.store.notes import add_note, notes_of
from bot.store.views import latest_ticket, operator_names

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

HISTORY_LIMIT = 500
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")
DEFAULT_REGION = {"ru": "RU", "en": "US"}


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class LeadIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    interest: list[str] = Field(default_factory=list, max_length=20)
    consent: bool = False


async def _conversation(state: ServerState, conversation_id: int, t: Translator) -> Conversation:
    async with state.db.reader() as session:
        conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, t("there is no conversation {id}", id=conversation_id))
    return conversation


def note_detail(note: dict[str, Any], names: Names) -> str | None:
    """The rule's detail in the operator's language, intents by their titles; as stored when unknown."""
    text = Text.from_json(note.get("detail_text"))
    if text is None:
        detail = note.get("detail")
        return str(detail) if detail else None
    values = {
        k: names.intent(v) if "intent" in k and isinstance(v, str) else v for k, v in text.values.items()
    }
    return names.t.gettext(text.msgid, **values)


@router.get("/{conversation_id}", summary="The conversation, its customer, ticket, whole history and notes")
async def conversation(
    request: Request, conversation_id: RowId, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(operator, state)
    shown = names_for(request, state, t)
    found = await _conversation(state, conversation_id, t)
    async with state.db.reader() as session:
        customer = await session.get_one(Customer, found.customer_id)
        identities = await identities_of(session, customer.id)
        ticket = await latest_ticket(session, conversation_id)
        entries = await history(session, customer.id, HISTORY_LIMIT)
        notes = await notes_of(session, conversation_id)
        names = await operator_names(
            session, {e.message.operator_id for e in entries if e.message.operator_id is not None}
        )
        matches = await possible_matches(session, customer.id)
        labels = (await labels_of(session, [conversation_id])).get(conversation_id, [])
    suggestions = await state.operators.suggestions(ticket.id) if ticket is not None else []
    note = dict(ticket.note or {}) if ticket is not None else {}
    note["detail"] = note_detail(note, shown)
    return {
        "conversation": {
            "id": found.id,
            "customer_id": found.customer_id,
            "channel": found.channel,
            "state": found.state.value,
            "slots": dict(found.slots or {}),
            "started_at": found.started_at.isoformat(),
            "labels": labels,
        },
        "customer": {
            "id": customer.id,
            "display_name": customer.display_name,
            "phone": customer.phone,
            "phone_verified": customer.phone_verified,
            "email": customer.email,
            "email_verified": customer.email_verified,
            "channels": [
                {"channel": i.channel, "external_id": i.external_id, "reachable": i.reachable}
                for i in identities
            ],
            # "possibly the same customer as ...": a typed contact; merged only by an operator
            "possible_matches": [
                {
                    "match_id": match.match_id,
                    "reason": match.reason,
                    "customer_id": match.other.id,
                    "display_name": match.other.display_name,
                    "channels": match.channels,
                    "since": match.other.created_at.isoformat(),
                }
                for match in matches
            ],
        },
        "ticket": None
        if ticket is None
        else {
            "id": ticket.id,
            "status": ticket.status.value,
            "reason": ticket.reason,
            "priority": ticket.priority,
            "operator_id": ticket.operator_id,
            "note": {
                key: note.get(key)
                for key in ("reason", "detail", "intent", "confidence", "slots", "summary", "after_hours")
            },
        },
        "history": [message_json(entry, customer, names, state) for entry in entries],
        "notes": [note_json(n, author) for n, author in notes],
        "suggestions": [
            {"intent": intent, "title": shown.intent(intent), "text": text} for intent, text in suggestions
        ],
        "quick_phrases": await state.operators.quick_phrases(operator.display_name),
        "lead_prefill": {
            "name": customer.display_name,
            "phone": customer.phone,
            "email": customer.email,
            # what the customer asked about, by the intents' titles: what the CRM card says
            "interest": [shown.intent(i) for i in (found.dialogue or {}).get("interest", [])],
        },
    }


@router.post("/{conversation_id}/notes", summary="A private note for colleagues (never sent to the customer)")
async def add_conversation_note(
    conversation_id: RowId, body: NoteIn, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(operator, state)
    await _conversation(state, conversation_id, t)
    async with state.db.session() as session:
        try:
            note = await add_note(
                session, conversation_id, operator.id, body.text, now=state.operators.clock()
            )
        except InputRejected as exc:
            raise HTTPException(422, t.text(str(exc.args[0]) if exc.args else str(exc))) from None
        await session.commit()
        return note_json(note, operator.display_name)


def normal_phone(raw: str, language: str, t: Translator) -> str:
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION.get(language, "RU"))
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise HTTPException(422, t("phone: {phone!r} is not a valid phone number", phone=raw))
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@router.post("/{conversation_id}/leads", summary="A lead card for the CRM (needs the customer's consent)")
async def add_lead(
    conversation_id: RowId, body: LeadIn, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(operator, state)
    found = await _conversation(state, conversation_id, t)
    if not body.consent:
        raise HTTPException(
            422, t("consent: the customer must agree before their contact details are kept for a call back")
        )
    phone = (
        normal_phone(body.phone.strip(), state.config.language, t)
        if body.phone and body.phone.strip()
        else None
    )
    email = body.email.strip().lower() if body.email and body.email.strip() else None
    if email is not None and not EMAIL.match(email):
        raise HTTPException(422, t("email: {email!r} is not an e-mail address", email=body.email))
    if phone is None and email is None:
        raise HTTPException(422, t("a lead needs a phone number or an e-mail address to call back"))
    interest = [item.strip()[:100] for item in body.interest if item.strip()]
    async with state.db.session() as session:
        try:
            lead = await create_lead(
                session,
                customer_id=found.customer_id,
                conversation_id=found.id,
                channel=found.channel,
                name=(body.name or "").strip() or None,
                phone=phone,
                email=email,
                consent=True,
                interest=interest,
                source=f"operator:{operator.login}"[:64],
            )
        except InputRejected as exc:
            raise HTTPException(422, t.text(str(exc.args[0]) if exc.args else str(exc))) from None
        await session.commit()
        card = {"id": lead.id, **lead_card(lead)}
    state.outbox.wake()
    # Where it goes: a CRM from config.yml, or nowhere yet (it waits in the outbox for one).
    return {**card, "delivery": "crm" if state.config.crm else "kept"}
