"""Customers and the identities they have in each channel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.errors import InputRejected
from bot.store.models import ChannelIdentity, Conversation, Customer, Lead, utcnow
from bot.store.prepared import Driver, driver_for, run
from bot.store.rows import affected

log = logging.getLogger("botdesk.store")
MAX_CHANNEL_CHARS = 32
MAX_EXTERNAL_ID_CHARS = 255


def check_identity(channel: str, external_id: str) -> None:
    if not channel or len(channel) > MAX_CHANNEL_CHARS:
        raise InputRejected(
            f"a channel name must be 1 to {MAX_CHANNEL_CHARS} characters, got {channel!r:.40}"
        )
    if not external_id or len(external_id) > MAX_EXTERNAL_ID_CHARS or "\x00" in external_id:
        raise InputRejected(
            f"a {channel} sender id must be 1 to {MAX_EXTERNAL_ID_CHARS} characters of text, "
            f"got {len(external_id)} characters"
        )


def display_name_of(profile: Mapping[str, Any]) -> str | None:
    """A name to show operators, from what the channel told us (Telegram: first + last name)."""
    for key in ("display_name", "name"):
        value = profile.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    parts = [profile.get("first_name"), profile.get("last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return name[:200] or None


def _identity_lookup(channel: str, external_id: str) -> Any:
    return select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
    )


async def link_identity(
    session: AsyncSession,
    customer: Customer,
    channel: str,
    external_id: str,
    profile: Mapping[str, Any] | None = None,
) -> ChannelIdentity:
    """Give a customer one more channel identity (the site visitor who is the Telegram user).

    An identity that already belongs to another customer is refused: merge the two
    customers with ``merge_customers`` instead. Does not commit.
    """
    check_identity(channel, external_id)
    lookup = _identity_lookup(channel, external_id)
    existing: ChannelIdentity | None = (await session.execute(lookup)).scalar_one_or_none()
    if existing is not None:
        if existing.customer_id != customer.id:
            raise InputRejected(
                f"{channel} sender {external_id} belongs to customer {existing.customer_id}; "
                "merge the customers instead"
            )
        return existing
    identity = ChannelIdentity(
        customer_id=customer.id, channel=channel, external_id=external_id, profile=dict(profile or {})
    )
    session.add(identity)
    await session.flush()
    return identity


async def merge_customers(where: AsyncSession | Driver, keep_id: int, merge_id: int) -> None:
    """Move everything of customer ``merge_id`` to ``keep_id`` and delete it. Does not commit."""
    if keep_id == merge_id:
        return
    driver = await driver_for(where)
    details = select(Customer.display_name, Customer.phone, Customer.email, Customer.created_at)
    merged = await run(driver, details.where(Customer.id == merge_id))
    kept = await run(driver, details.where(Customer.id == keep_id))
    if not merged or not kept:
        raise InputRejected(f"cannot merge customer {merge_id} into {keep_id}: no such customer")
    for model in (ChannelIdentity, Lead):
        await run(driver, update(model).where(model.customer_id == merge_id).values(customer_id=keep_id))
    await run(
        driver,
        update(Conversation)
        .where(Conversation.customer_id == merge_id)
        .values(customer_id=keep_id, updated_at=utcnow()),
    )
    (name, phone, email, created), (their_name, their_phone, their_email, their_created) = kept[0], merged[0]
    await run(
        driver,
        update(Customer)
        .where(Customer.id == keep_id)
        .values(
            display_name=name or their_name,
            phone=phone or their_phone,
            email=email or their_email,
            created_at=min(created, their_created),
        ),
    )
    await run(driver, delete(Customer).where(Customer.id == merge_id))


async def set_reachable(session: AsyncSession, channel: str, external_id: str, reachable: bool) -> bool:
    """Record that a channel can (not) deliver to a sender, e.g. the bot was blocked. Does not commit."""
    result = await session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        .values(reachable=reachable)
    )
    return affected(result) > 0


async def identities_of(session: AsyncSession, customer_id: int) -> list[ChannelIdentity]:
    result = await session.execute(
        select(ChannelIdentity).where(ChannelIdentity.customer_id == customer_id).order_by(ChannelIdentity.id)
    )
    return list(result.scalars())


def _normal_phone(phone: str | None) -> str | None:
    """The comparable form of a phone: digits with a leading "+" ("79123456789" -> "+79123456789")."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}" if 6 <= len(digits) <= 15 else None


async def _channels_of(driver: Driver, customer_id: int) -> set[str]:
    rows = await run(
        driver, select(ChannelIdentity.channel).where(ChannelIdentity.customer_id == customer_id)
    )
    return {channel for (channel,) in rows}


async def remember_contact(
    where: AsyncSession | Driver, customer_id: int, *, phone: str | None = None, email: str | None = None
) -> int:
    """Record a phone or e-mail the customer gave; returns the id of the customer that remains.

    When another customer already has that phone or e-mail, it is the same person
    writing from another channel: the two are merged into the older one, so operators
    see the web and the Telegram history together. Two customers that each have an
    identity in the same channel are different accounts there and are not merged (a
    conversation goes out through the customer's one identity per channel). Known
    details are never overwritten. Does not commit.
    """
    phone, email = _normal_phone(phone), (email or "").strip().lower() or None
    if phone is None and email is None:
        return customer_id
    driver = await driver_for(where)
    matches = [Customer.phone == phone] if phone else []
    if email:
        matches.append(Customer.email == email)
    others = await run(
        driver,
        select(Customer.id, Customer.created_at)
        .where(Customer.id != customer_id, Customer.forgotten_at.is_(None), or_(*matches))
        .order_by(Customer.created_at, Customer.id),
    )
    me = await run(driver, select(Customer.created_at).where(Customer.id == customer_id))
    if not me:
        raise InputRejected(f"no customer {customer_id} to remember a contact of")
    channels = await _channels_of(driver, customer_id)
    keep = (me[0][0], customer_id)
    for other_id, other_created in others:  # oldest first
        theirs = await _channels_of(driver, other_id)
        if channels & theirs:
            log.info(
                "customers %s and %s share a contact but both have a %s identity: not merged",
                customer_id,
                other_id,
                "/".join(sorted(channels & theirs)),
            )
            continue
        older, newer = sorted((keep, (other_created, other_id)))
        await merge_customers(driver, older[1], newer[1])
        log.info("customer %s merged into %s (same phone or e-mail)", newer[1], older[1])
        keep = older
        channels |= theirs
    await run(
        driver,
        update(Customer)
        .where(Customer.id == keep[1])
        .values(phone=func.coalesce(Customer.phone, phone), email=func.coalesce(Customer.email, email)),
    )
    return keep[1]
