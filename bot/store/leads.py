"""Leads and callback requests (forgetting a customer: ``bot.store.privacy``).

A lead and its CRM push are written in one transaction (the lead row and an outbox
row ``crm.lead``): either both exist or neither, so a lead is never lost and never
pushed twice under different keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
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
from bot.store.prepared import Driver, driver_for, run, scalar

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
    where: AsyncSession | Driver, conversation_id: int, lines: int = TRANSCRIPT_LINES
) -> list[dict[str, str]]:
    """The end of a conversation as lead-card lines: ``{"sender", "text", "at"}``, oldest first."""
    driver = await driver_for(where)
    rows = await run(
        driver,
        select(Message.sender, Message.text, Message.created_at)
        .where(Message.conversation_id == conversation_id, Message.sender != Sender.SYSTEM)
        .order_by(Message.id.desc())
        .limit(lines),
    )
    return [
        {"sender": Sender(sender).value, "text": text, "at": at.isoformat()}
        for sender, text, at in reversed(rows)
    ]


async def create_lead(
    where: AsyncSession | Driver,
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
    now: datetime | None = None,
) -> Lead:
    """Store a lead and enqueue its ``crm.lead`` push in the same transaction. Does not commit:
    commit both, or roll back and neither exists.

    Contact details are personal data: without ``consent`` they are refused.
    ``transcript`` defaults to the conversation's last messages. Returns the stored lead
    as a plain ``Lead`` (not attached to a session).
    """
    if not consent and (name or phone or email):
        raise InputRejected("a lead with a name, phone or e-mail needs the customer's consent")
    driver = await driver_for(where)
    if transcript is None:
        lines: list[Any] = await transcript_of(driver, conversation_id)
    else:
        lines = [dict(line) for line in transcript]
    now = now or utcnow()
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "conversation_id": conversation_id,
        "kind": kind,
        "name": name,
        "phone": phone,
        "email": email,
        "consent": consent,
        "consent_at": now if consent else None,
        "interest": list(interest),
        "channel": channel,
        "transcript": lines,
        "source": source,
        "created_at": now,
    }
    lead_id = await scalar(driver, insert(Lead).values(**values).returning(Lead.id))
    lead = Lead(id=int(lead_id), **values)
    await enqueue(driver, CRM_LEAD, lead_card(lead), lead_key(lead), now=now)
    return lead
