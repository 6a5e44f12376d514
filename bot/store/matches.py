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
from typing import Any

from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.i18n.text import Text
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
from bot.store.prepared import Driver, driver_for, insert_ignoring_conflict, run, scalar

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


async def suggest(
    where: AsyncSession | Driver, customer_id: int, other_id: int, reason: str, now: datetime
) -> bool:
    """Suggest that two customers are one; False when that pair was suggested before (or dismissed).

    Runs in a customer turn (``Driver``) or an ORM session; does not commit.
    """
    driver = await driver_for(where)
    low, high = min(customer_id, other_id), max(customer_id, other_id)
    added = await run(
        driver,
        insert_ignoring_conflict(
            driver.dialect.name, CustomerMatch, "customer_id", "other_customer_id", "reason"
        )
        .values(
            customer_id=low, other_customer_id=high, reason=reason, status=MatchStatus.OPEN, created_at=now
        )
        .returning(CustomerMatch.id),
    )
    if added:
        log.info("customers %s and %s may be one person (same %s): suggested to operators", low, high, reason)
    return bool(added)


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
        raise UnknownMatch(Text("there is no open suggestion {id}", id=match_id))
    return match


async def _lock_customers(driver: Driver, *ids: int) -> None:
    """On PostgreSQL, row-lock both customers (in id order) as a customer's turn does."""
    if driver.dialect.name == "postgresql":
        for customer_id in sorted(ids):
            await run(driver, select(Customer.id).where(Customer.id == customer_id).with_for_update())


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
    where: AsyncSession | Driver,
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
    where known, a verified one winning over a typed one. Runs in a customer turn
    (``Driver``) or an ORM session; does not commit.
    """
    if keep_id == merge_id:
        return keep_id
    driver = await driver_for(where)
    await _lock_customers(driver, keep_id, merge_id)
    details = select(
        Customer.display_name,
        Customer.phone,
        Customer.phone_verified,
        Customer.email,
        Customer.email_verified,
        Customer.created_at,
    )
    merged = await run(driver, details.where(Customer.id == merge_id))
    kept = await run(driver, details.where(Customer.id == keep_id))
    if not merged or not kept:
        raise InputRejected(f"cannot merge customer {merge_id} into {keep_id}: no such customer")
    for column in _customer_references():  # identities, conversations, leads, feedback, ...
        values: dict[str, Any] = {column.key: keep_id}
        if "updated_at" in column.class_.__table__.c:
            values["updated_at"] = now or utcnow()
        await run(driver, update(column.class_).where(column == merge_id).values(values))
    await _move_matches(driver, keep_id, merge_id)
    name, phone, phone_ok, email, email_ok, created = kept[0]
    their_name, their_phone, their_phone_ok, their_email, their_email_ok, their_created = merged[0]
    if their_phone and (not phone or (their_phone_ok and not phone_ok)):
        phone, phone_ok = their_phone, their_phone_ok
    if their_email and (not email or (their_email_ok and not email_ok)):
        email, email_ok = their_email, their_email_ok
    await run(
        driver,
        update(Customer)
        .where(Customer.id == keep_id)
        .values(
            display_name=name or their_name,
            phone=phone,
            phone_verified=bool(phone_ok),
            email=email,
            email_verified=bool(email_ok),
            created_at=min(created, their_created),
        ),
    )
    await run(driver, delete(Customer).where(Customer.id == merge_id))
    await run(
        driver,
        insert(CustomerMerge).values(
            kept_customer_id=keep_id,
            merged_customer_id=merge_id,
            reason=reason,
            operator_id=operator.id if operator is not None else None,
            operator_login=operator.login if operator is not None else None,
            match_id=match_id,
            merged_at=now or utcnow(),
        ),
    )
    who = f"operator {operator.login}" if operator is not None else "the bot"
    log.info("customer %s merged into %s by %s (%s)", merge_id, keep_id, who, reason)
    return keep_id


async def _move_matches(driver: Driver, keep_id: int, merge_id: int) -> None:
    """Suggestions about the merged customer become the kept one's; theirs with each other end."""
    pair = (CustomerMatch.customer_id, CustomerMatch.other_customer_id)
    await run(
        driver,
        delete(CustomerMatch).where(pair[0] == min(keep_id, merge_id), pair[1] == max(keep_id, merge_id)),
    )
    moving = await run(
        driver,
        select(CustomerMatch.id, *pair, CustomerMatch.reason).where(
            or_(CustomerMatch.customer_id == merge_id, CustomerMatch.other_customer_id == merge_id)
        ),
    )
    for match_id, first, second, reason in moving:
        other = second if first == merge_id else first
        low, high = min(keep_id, other), max(keep_id, other)
        duplicate = await scalar(
            driver,
            select(CustomerMatch.id).where(pair[0] == low, pair[1] == high, CustomerMatch.reason == reason),
        )
        if duplicate is not None:
            await run(driver, delete(CustomerMatch).where(CustomerMatch.id == match_id))
        else:
            await run(
                driver,
                update(CustomerMatch)
                .where(CustomerMatch.id == match_id)
                .values(customer_id=low, other_customer_id=high),
            )


async def merge_match(session: AsyncSession, match_id: int, operator: Operator, now: datetime) -> int:
    """An operator merges a suggested pair into the older customer; returns the kept id. Does not commit."""
    match = await _open_match(session, match_id)
    first = await session.get(Customer, match.customer_id)
    second = await session.get(Customer, match.other_customer_id)
    if first is None or second is None:
        raise UnknownMatch(Text("there is no open suggestion {id}", id=match_id))
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
            Text(
                "both customers have a {channels} account; they are different accounts there "
                "and cannot be merged",
                channels="/".join(sorted(shared)),
            )
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
