"""Customers and the identities they have in each channel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.errors import InputRejected, StoreError
from bot.store.models import ChannelIdentity, Conversation, Customer, Lead
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


async def identify_customer(
    session: AsyncSession, channel: str, external_id: str, profile: Mapping[str, Any] | None = None
) -> tuple[Customer, ChannelIdentity]:
    """The customer behind a channel sender, created on first contact. Does not commit.

    Race-safe: when two first messages arrive at once, the unique (channel,
    external_id) constraint lets one insert win and the other reads the winner's row.
    A sender who writes is reachable again; a new profile is merged into the old one.
    """
    check_identity(channel, external_id)
    lookup = _identity_lookup(channel, external_id)
    known = (
        await session.execute(
            select(ChannelIdentity, Customer)
            .join(Customer, Customer.id == ChannelIdentity.customer_id)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        )
    ).first()  # the usual case, a returning customer: one round trip
    identity: ChannelIdentity | None = known[0] if known else None
    if identity is None:
        customer = Customer(display_name=display_name_of(profile or {}))
        try:
            async with session.begin_nested():
                session.add(customer)
                await session.flush()
                identity = ChannelIdentity(
                    customer_id=customer.id,
                    channel=channel,
                    external_id=external_id,
                    profile=dict(profile or {}),
                )
                session.add(identity)
        except IntegrityError:
            identity = (await session.execute(lookup)).scalar_one_or_none()
            if identity is None:
                raise
        else:
            return customer, identity
    if profile and {**identity.profile, **profile} != identity.profile:
        identity.profile = {**identity.profile, **profile}
    if not identity.reachable:
        identity.reachable = True
    found = known[1] if known else await session.get(Customer, identity.customer_id)
    if found is None:  # only a concurrent forget_customer can get here
        raise StoreError(f"customer {identity.customer_id} of {channel} sender {external_id} vanished")
    if found.display_name is None and profile:
        found.display_name = display_name_of(profile)
    await session.flush()
    return found, identity


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


async def merge_customers(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    """Move everything of customer ``merge_id`` to ``keep_id`` and delete it. Does not commit."""
    if keep_id == merge_id:
        return
    for model in (ChannelIdentity, Conversation, Lead):
        await session.execute(update(model).where(model.customer_id == merge_id).values(customer_id=keep_id))
    merged = await session.get(Customer, merge_id)
    kept = await session.get(Customer, keep_id)
    if merged is None or kept is None:
        raise InputRejected(f"cannot merge customer {merge_id} into {keep_id}: no such customer")
    kept.display_name = kept.display_name or merged.display_name
    kept.phone = kept.phone or merged.phone
    kept.email = kept.email or merged.email
    kept.created_at = min(kept.created_at, merged.created_at)
    await session.delete(merged)
    await session.flush()


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


async def remember_contact(
    session: AsyncSession, customer_id: int, *, phone: str | None = None, email: str | None = None
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
    matches = [Customer.phone == phone] if phone else []
    if email:
        matches.append(Customer.email == email)
    others = list(
        (
            await session.execute(
                select(Customer)
                .where(Customer.id != customer_id, Customer.forgotten_at.is_(None), or_(*matches))
                .order_by(Customer.created_at, Customer.id)
            )
        ).scalars()
    )
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise InputRejected(f"no customer {customer_id} to remember a contact of")
    channels = {i.channel for i in await identities_of(session, customer_id)}
    keep = customer
    for other in others:  # oldest first
        theirs = {i.channel for i in await identities_of(session, other.id)}
        if channels & theirs:
            log.info(
                "customers %s and %s share a contact but both have a %s identity: not merged",
                customer_id,
                other.id,
                "/".join(sorted(channels & theirs)),
            )
            continue
        older, newer = sorted((keep, other), key=lambda c: (c.created_at, c.id))
        await merge_customers(session, older.id, newer.id)
        log.info("customer %s merged into %s (same phone or e-mail)", newer.id, older.id)
        keep = older
        channels |= theirs
    keep.phone = keep.phone or phone
    keep.email = keep.email or email
    await session.flush()
    return keep.id
