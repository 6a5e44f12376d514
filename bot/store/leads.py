"""Leads and callback requests (forgetting a customer: ``bot.store.privacy``).

A lead and its CRM push are written in one transaction (the lead row and an outbox
row ``crm.lead``): either both exist or neither, so a lead is never lost and never
pushed twice under different keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.errors import InputRejected
from bot.store.models import (
    Lead,
    LeadKind,
    Message,
    Sender,
    utcnow,
)
from bot.store.outbox import enqueue

CRM_LEAD = "crm.lead"
TRANSCRIPT_LINES = 20


def lead_key(lead: Lead) -> str:
    """The CRM idempotency key: the same for every retry, different after a database reset."""
    return f"{CRM_LEAD}:{lead.id}:{lead.created_at:%Y%m%dT%H%M%S%f}"


def lead_card(lead: Lead) -> dict[str, Any]:
    """The outbox payload: a lead card as ``handoff.crm.LeadCard`` reads it (see docs/crm.md)."""
    return {
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "consent": lead.consent,
        "consent_at": lead.consent_at.isoformat() if lead.consent_at else None,
        "channel": lead.channel,
        "customer_id": str(lead.customer_id),
        "conversation_id": str(lead.conversation_id),
        "interest": list(lead.interest),
        "last_messages": list(lead.transcript[-TRANSCRIPT_LINES:]),
        "source": lead.source or "botdesk",
        "kind": lead.kind.value,
        "created_at": lead.created_at.isoformat(),
        "idempotency_key": lead_key(lead),
    }


async def transcript_of(
    session: AsyncSession, conversation_id: int, lines: int = TRANSCRIPT_LINES
) -> list[dict[str, str]]:
    """The end of a conversation as lead-card lines: ``{"sender", "text", "at"}``, oldest first."""
    result = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.sender != Sender.SYSTEM)
        .order_by(Message.id.desc())
        .limit(lines)
    )
    return [
        {"sender": m.sender.value, "text": m.text, "at": m.created_at.isoformat()}
        for m in reversed(result.scalars().all())
    ]


async def create_lead(
    session: AsyncSession,
    *,
    customer_id: int,
    conversation_id: int,
    channel: str,
    kind: LeadKind = LeadKind.LEAD,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    consent: bool = False,
    interest: Sequence[str] = (),
    transcript: Sequence[Mapping[str, Any]] | None = None,
    source: str | None = None,
) -> Lead:
    """Store a lead and enqueue its ``crm.lead`` push in the same transaction. Does not commit:
    commit both, or roll back and neither exists.

    Contact details are personal data: without ``consent`` they are refused.
    ``transcript`` defaults to the conversation's last messages.
    """
    if not consent and (name or phone or email):
        raise InputRejected("a lead with a name, phone or e-mail needs the customer's consent")
    if transcript is None:
        await session.flush()  # messages added in this session count too
        lines: list[Any] = await transcript_of(session, conversation_id)
    else:
        lines = [dict(line) for line in transcript]
    now = utcnow()
    lead = Lead(
        customer_id=customer_id,
        conversation_id=conversation_id,
        kind=kind,
        name=name,
        phone=phone,
        email=email,
        consent=consent,
        consent_at=now if consent else None,
        interest=list(interest),
        channel=channel,
        transcript=lines,
        source=source,
        created_at=now,
    )
    session.add(lead)
    await session.flush()
    await enqueue(session, CRM_LEAD, lead_card(lead), lead_key(lead))
    return lead
