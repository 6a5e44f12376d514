"""Customers and the identities they have in each channel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.errors import InputRejected
from bot.store.matches import merge_customers, suggest
from bot.store.models import ChannelIdentity, Customer, utcnow
from bot.store.prepared import Driver, driver_for, run, scalar
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


async def customer_of(session: AsyncSession, channel: str, external_id: str) -> int | None:
    """The id of the customer behind a channel sender, None for a sender never seen."""
    found: int | None = await session.scalar(
        select(ChannelIdentity.customer_id).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    return found


async def link_identity(
    session: AsyncSession,
    customer: Customer,
    channel: str,
    external_id: str,
    profile: Mapping[str, Any] | None = None,
) -> ChannelIdentity:
    """Give a customer one more channel identity (the site visitor who is the Telegram user).

    An identity that already belongs to another customer is refused: merge the two
    customers with ``bot.store.matches.merge_customers`` instead. Does not commit.
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
    where: AsyncSession | Driver,
    customer_id: int,
    *,
    phone: str | None = None,
    email: str | None = None,
    verified: bool = False,
    now: datetime | None = None,
) -> int:
    """Record a phone or e-mail of the customer; returns the id of the customer that remains.

    ``verified``: the channel itself vouches that the contact is this customer's (a
    Telegram contact shared by its own user). Only then may customers merge by
    themselves, and only with another customer whose same contact is verified too: the
    same person writing from another channel, so operators see both histories together
    (into the older record, audited in ``customer_merges``). A typed contact (a lead
    form, an e-mail in a message) proves nothing: anyone can type anyone's number, and
    merging on it showed the typist a stranger's name and history. It never merges; it
    makes a suggestion, "possibly the same customer as ...", that operators see and
    decide on (``bot.store.matches``). Two customers who each have an identity in the
    same channel are different accounts there and are never merged. A contact is stored
    on the customer when none is known or when it replaces a typed one with a verified
    one. Runs in a customer turn (``Driver``) or an ORM session; does not commit.
    """
    phone, email = _normal_phone(phone), (email or "").strip().lower() or None
    if phone is None and email is None:
        return customer_id
    driver = await driver_for(where)
    now = now or utcnow()
    if not await run(driver, select(Customer.id).where(Customer.id == customer_id)):
        raise InputRejected(f"no customer {customer_id} to remember a contact of")
    channels = await _channels_of(driver, customer_id)
    keep = customer_id
    for reason, column, flag, value in (
        ("phone", Customer.phone, Customer.phone_verified, phone),
        ("email", Customer.email, Customer.email_verified, email),
    ):
        if value is None:
            continue
        others = await run(
            driver,
            select(Customer.id, Customer.created_at, flag)
            .where(Customer.id != keep, Customer.forgotten_at.is_(None), column == value)
            .order_by(Customer.created_at, Customer.id),
        )
        for other_id, other_created, other_verified in others:  # oldest first
            theirs = await _channels_of(driver, other_id)
            if channels & theirs:
                log.info(
                    "customers %s and %s share a %s but both have a %s identity: not merged",
                    keep,
                    other_id,
                    reason,
                    "/".join(sorted(channels & theirs)),
                )
                continue
            if verified and other_verified:
                mine = await scalar(driver, select(Customer.created_at).where(Customer.id == keep))
                (_, older), (_, newer) = sorted(((mine, keep), (other_created, other_id)))
                keep = await merge_customers(driver, older, newer, reason=f"verified {reason}", now=now)
                channels |= theirs
            else:
                await suggest(driver, keep, other_id, reason, now)
        await _store_contact(driver, keep, reason, value, verified)
    return keep


async def _channels_of(driver: Driver, customer_id: int) -> set[str]:
    rows = await run(
        driver, select(ChannelIdentity.channel).where(ChannelIdentity.customer_id == customer_id)
    )
    return {channel for (channel,) in rows}


async def _store_contact(driver: Driver, customer_id: int, kind: str, value: str, verified: bool) -> None:
    """Keep a known contact, unless a verified one replaces a typed one."""
    column, flag = (
        (Customer.phone, Customer.phone_verified)
        if kind == "phone"
        else (Customer.email, Customer.email_verified)
    )
    rows = await run(driver, select(column, flag).where(Customer.id == customer_id))
    known, known_verified = rows[0]
    if known is not None and (known_verified or not verified) and known != value:
        return
    await run(
        driver,
        update(Customer)
        .where(Customer.id == customer_id)
        .values({column.key: value, flag.key: verified or (known == value and bool(known_verified))}),
    )
