"""Two customer records that may be one person: suggestions, the operator's merge, the audit.

A contact a customer *typed* (a phone in the call-back form, an e-mail in a lead) proves
nothing: anyone can type anyone's number. Merging on it would show the typist another
customer's name and whole history (issue 17, item 3). So a typed contact only makes a
suggestion, "possibly the same customer as ...", shown to operators on the customer card;
an operator merges (or dismisses) it explicitly, and every merge, automatic or not, is
recorded in ``customer_merges``: which into which, why, who, when.

Only a contact the channel itself verifies (a Telegram contact shared by its own user)
merges by itself, and only with a customer whose same contact is verified too
(``bot.store.customers.remember_contact``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.store.db import dialect_of
from bot.store.errors import InputRejected
from bot.store.models import (
    Base,
    ChannelIdentity,
    Customer,
    CustomerMatch,
    CustomerMerge,
    MatchStatus,
    Operator,
    utcnow,
)
from bot.store.rows import insert_or_get

log = logging.getLogger("botdesk.store")
OPERATOR_MERGE = "operator"
HANDLED_HERE = frozenset({"customers", "customer_matches"})


class UnknownMatch(InputRejected):
    """There is no open suggestion with that id."""


@dataclass(frozen=True)
class PossibleMatch:
    """An open suggestion as a customer card shows it: the other customer, why, their channels."""

    match_id: int
    reason: str
    other: Customer
    channels: list[str]


async def suggest(session: AsyncSession, customer_id: int, other_id: int, reason: str, now: datetime) -> bool:
    """Suggest that two customers are one; False when that pair was suggested before (or dismissed).

    Does not commit.
    """
    pair = (min(customer_id, other_id), max(customer_id, other_id))
    lookup = select(CustomerMatch).where(
        CustomerMatch.customer_id == pair[0],
        CustomerMatch.other_customer_id == pair[1],
        CustomerMatch.reason == reason,
    )
    row = CustomerMatch(customer_id=pair[0], other_customer_id=pair[1], reason=reason, created_at=now)
    _, created = await insert_or_get(session, row, lookup)
    if created:
        log.info("customers %s and %s may be one person (same %s): suggested to operators", *pair, reason)
    return created


async def possible_matches(session: AsyncSession, customer_id: int) -> list[PossibleMatch]:
    """The open suggestions about a customer, with the other customer of each."""
    rows = await session.execute(
        select(CustomerMatch, Customer)
        .join(
            Customer,
            or_(
                and_(
                    CustomerMatch.customer_id == customer_id, Customer.id == CustomerMatch.other_customer_id
                ),
                and_(
                    CustomerMatch.other_customer_id == customer_id, Customer.id == CustomerMatch.customer_id
                ),
            ),
        )
        .where(CustomerMatch.status == MatchStatus.OPEN, Customer.forgotten_at.is_(None))
        .order_by(CustomerMatch.id)
    )
    found = []
    for match, other in rows.all():
        channels = await session.scalars(
            select(ChannelIdentity.channel)
            .where(ChannelIdentity.customer_id == other.id)
            .order_by(ChannelIdentity.id)
        )
        found.append(PossibleMatch(match.id, match.reason, other, list(dict.fromkeys(channels))))
    return found


async def _open_match(session: AsyncSession, match_id: int) -> CustomerMatch:
    match = await session.get(CustomerMatch, match_id)
    if match is None or match.status != MatchStatus.OPEN:
        raise UnknownMatch(f"there is no open suggestion {match_id}")
    return match


async def _lock_customers(session: AsyncSession, *ids: int) -> None:
    """On PostgreSQL, row-lock both customers (in id order) as a customer's turn does."""
    if dialect_of(session) == "postgresql":
        await session.execute(
            select(Customer.id).where(Customer.id.in_(sorted(ids))).order_by(Customer.id).with_for_update()
        )


def _customer_references() -> list[InstrumentedAttribute[int]]:
    """Every mapped column outside this module's tables that points at a customer (tables added later too)."""
    found = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if not isinstance(table, Table) or table.name in HANDLED_HERE:
            continue
        for key in table.foreign_keys:
            if key.column.table.name == "customers":
                found.append(getattr(mapper.class_, key.parent.key))
    return sorted(found, key=lambda attribute: (attribute.class_.__tablename__, attribute.key))


async def merge_customers(
    session: AsyncSession,
    keep_id: int,
    merge_id: int,
    *,
    reason: str,
    operator: Operator | None = None,
    match_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Move everything of customer ``merge_id`` to ``keep_id``, delete it, and record the merge.

    Every table that points at a customer moves along (found through the foreign keys,
    so a table added later is not left behind or cascaded away). Contacts are kept
    where known, a verified one winning over a typed one. Does not commit.
    """
    if keep_id == merge_id:
        return keep_id
    await _lock_customers(session, keep_id, merge_id)
    merged = await session.get(Customer, merge_id)
    kept = await session.get(Customer, keep_id)
    if merged is None or kept is None:
        raise InputRejected(f"cannot merge customer {merge_id} into {keep_id}: no such customer")
    for column in _customer_references():  # identities, conversations, leads, feedback, ...
        await session.execute(update(column.class_).where(column == merge_id).values({column.key: keep_id}))
    await _move_matches(session, keep_id, merge_id)
    kept.display_name = kept.display_name or merged.display_name
    if merged.phone and (not kept.phone or (merged.phone_verified and not kept.phone_verified)):
        kept.phone, kept.phone_verified = merged.phone, merged.phone_verified
    if merged.email and (not kept.email or (merged.email_verified and not kept.email_verified)):
        kept.email, kept.email_verified = merged.email, merged.email_verified
    kept.created_at = min(kept.created_at, merged.created_at)
    await session.delete(merged)
    session.add(
        CustomerMerge(
            kept_customer_id=keep_id,
            merged_customer_id=merge_id,
            reason=reason,
            operator_id=operator.id if operator is not None else None,
            operator_login=operator.login if operator is not None else None,
            match_id=match_id,
            merged_at=now or utcnow(),
        )
    )
    await session.flush()
    who = f"operator {operator.login}" if operator is not None else "the bot"
    log.info("customer %s merged into %s by %s (%s)", merge_id, keep_id, who, reason)
    return keep_id


async def _move_matches(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    """Suggestions about the merged customer become the kept one's; theirs with each other end."""
    await session.execute(
        delete(CustomerMatch).where(
            or_(
                and_(CustomerMatch.customer_id == keep_id, CustomerMatch.other_customer_id == merge_id),
                and_(CustomerMatch.customer_id == merge_id, CustomerMatch.other_customer_id == keep_id),
            )
        )
    )
    moving = list(
        (
            await session.scalars(
                select(CustomerMatch).where(
                    or_(CustomerMatch.customer_id == merge_id, CustomerMatch.other_customer_id == merge_id)
                )
            )
        ).all()
    )
    for match in moving:
        other = match.other_customer_id if match.customer_id == merge_id else match.customer_id
        low, high = min(keep_id, other), max(keep_id, other)
        duplicate = await session.scalar(
            select(CustomerMatch.id).where(
                CustomerMatch.customer_id == low,
                CustomerMatch.other_customer_id == high,
                CustomerMatch.reason == match.reason,
            )
        )
        if duplicate is not None:
            await session.delete(match)
        else:
            match.customer_id, match.other_customer_id = low, high
        await session.flush()


async def merge_match(session: AsyncSession, match_id: int, operator: Operator, now: datetime) -> int:
    """An operator merges a suggested pair into the older customer; returns the kept id. Does not commit."""
    match = await _open_match(session, match_id)
    first = await session.get(Customer, match.customer_id)
    second = await session.get(Customer, match.other_customer_id)
    if first is None or second is None:
        raise UnknownMatch(f"there is no open suggestion {match_id}")
    older, newer = sorted((first, second), key=lambda c: (c.created_at, c.id))
    await _forbid_two_identities_in_one_channel(session, older.id, newer.id)
    return await merge_customers(
        session, older.id, newer.id, reason=OPERATOR_MERGE, operator=operator, match_id=match_id, now=now
    )


async def _forbid_two_identities_in_one_channel(session: AsyncSession, first: int, second: int) -> None:
    """A conversation goes out through the customer's one identity per channel: two cannot be merged."""
    channels = {
        customer: set(
            await session.scalars(
                select(ChannelIdentity.channel).where(ChannelIdentity.customer_id == customer)
            )
        )
        for customer in (first, second)
    }
    shared = channels[first] & channels[second]
    if shared:
        raise InputRejected(
            f"both customers have a {'/'.join(sorted(shared))} account; they are different accounts there "
            "and cannot be merged"
        )


async def dismiss_match(session: AsyncSession, match_id: int, operator: Operator, now: datetime) -> None:
    """The operator says the two are different people: the suggestion is not shown again. Does not commit."""
    match = await _open_match(session, match_id)
    match.status, match.resolved_by, match.resolved_at = MatchStatus.DISMISSED, operator.id, now
    await session.flush()


async def merge_history(session: AsyncSession, limit: int = 200) -> list[CustomerMerge]:
    """The newest merges first, for admins."""
    return list(
        (await session.scalars(select(CustomerMerge).order_by(CustomerMerge.id.desc()).limit(limit))).all()
    )
