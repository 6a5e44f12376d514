"""A customer turn's usual statements, built once in SQLAlchemy Core.

The ORM spends far more time per statement than SQLite or PostgreSQL do (building the
statement, its cache key, the unit of work), and a customer turn is the one thing
botdesk does hundreds of times a second. The usual turn of a known customer in an open
conversation is four statements, all written here once (and compiled once per dialect):

    sender_row        who wrote, in which open conversation (and its dialogue state);
                      on PostgreSQL it locks the customer (two turns of one customer in
                      two processes queue there)
    insert_inbound    the message with its NLU result; a redelivered one is skipped
    insert_replies    the bot's replies (up to four in one INSERT)
    save_dialogue     the conversation's dialogue state after the turn

On PostgreSQL the first two are one statement, ``sender_with_message`` (a round trip is
most of what a statement costs there), and the last two go out with the COMMIT: two round
trips a turn. On SQLite, in process, they stay four calls.

A first message adds ``create_sender`` (customer and channel identity) and
``start_conversation``, on PostgreSQL in the same statement as the look-up and the message
(``sender_with_message``); a changed profile ``update_sender``; recovering a stranded message
``lock_unparsed``, ``stranded_turn`` and ``set_nlu``. Only ``bot.store.turn_store`` runs
them: it is the one way a customer message is written.

The statements run on the transaction's driver connection (``bot.store.prepared``): SQL
compiled once per dialect, values converted by the columns' own types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from bot.store.conversations import check_text
from bot.store.customers import check_identity, display_name_of
from bot.store.models import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    Direction,
    Message,
    Sender,
)
from bot.store.prepared import Driver, Later, LaterDriver, Prepared, insert_ignoring_conflict, scalar
from bot.store.stranded import stranded_conditions


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


_identities = _table(ChannelIdentity)
_customers = _table(Customer)
_conversations = _table(Conversation)
_messages = _table(Message)

_latest = _conversations.alias("latest")
_is_open = (
    _latest.c.customer_id == _identities.c.customer_id,
    _latest.c.channel == _identities.c.channel,
    _latest.c.state != ConversationState.CLOSED,
)
# The sender's newest open conversation. SQLite: joined on the correlated MAX of its id.
# PostgreSQL: a LATERAL subquery, always a nested loop over the (customer, channel) index.
# Joined on the MAX there, the generic plan a prepared statement keeps was a hash join over
# every conversation whenever it was made while the tables were small (a new deployment):
# a scan of the whole table at each turn until the table was analysed again.
_open_id = select(func.max(_latest.c.id)).where(*_is_open).correlate(_identities).scalar_subquery()
_open_lateral = (
    select(_latest.c.id, _latest.c.state, _latest.c.dialogue)
    .where(*_is_open)
    .order_by(_latest.c.id.desc())
    .limit(literal_column("1"))  # in the SQL: a LIMIT bound as a parameter is unknown to the plan
    .lateral("open_conversation")
)


def _sender_query(open_conversation: FromClause, on: ColumnElement[bool]) -> Select[Any]:
    return (
        select(
            _identities.c.customer_id,
            _identities.c.profile,
            _identities.c.reachable,
            _customers.c.display_name,
            open_conversation.c.id,
            open_conversation.c.state,
            open_conversation.c.dialogue,
        )
        .select_from(
            _identities.join(_customers, _customers.c.id == _identities.c.customer_id).outerjoin(
                open_conversation, on
            )
        )
        .where(
            _identities.c.channel == bindparam("channel"),
            _identities.c.external_id == bindparam("external_id"),
        )
    )


# On PostgreSQL the customer's row is locked: one customer's turns in two processes queue here.
_SENDER_ON_POSTGRESQL = _sender_query(_open_lateral, true()).with_for_update(of=_customers)
_SENDER = Prepared(
    {
        "sqlite": _sender_query(_conversations, _conversations.c.id == _open_id),
        "postgresql": _SENDER_ON_POSTGRESQL,
    }
)


# A customer message's values as the PostgreSQL CTEs below bind them (``InboundRow.values``).
_MESSAGE_VALUES = {
    "direction": "direction",
    "sender": "sender",
    "text": "text",
    "attachments": "attachments",
    "channel_message_id": "channel_message_id",
    "nlu": "nlu",
    "model_version": "model_version",
    "created_at": "now",
}


def _fed_by(
    table: Table,
    key: str,
    source: ColumnElement[Any],
    values: Mapping[str, str],
    *,
    returning: ColumnElement[Any],
    unique: Sequence[str] = (),
    name: str,
) -> CTE:
    """PostgreSQL: ``INSERT INTO table (key, ...) SELECT source, :values ...`` as a CTE named ``name``.

    One row per row of ``source``'s CTE (none when it has none, or when ``source`` is NULL),
    each value a typed bind parameter (``values``: column -> parameter name); with
    ``unique``, ``ON CONFLICT (unique) DO NOTHING``. Chaining them writes rows that
    depend on each other in one statement, one round trip.
    """
    binds = {column: bindparam(parameter, type_=table.c[column].type) for column, parameter in values.items()}
    insert_rows = postgresql_insert(table).from_select(
        [key, *binds], select(source, *binds.values()).where(source.is_not(None))
    )
    if unique:
        insert_rows = insert_rows.on_conflict_do_nothing(index_elements=list(unique))
    return insert_rows.returning(returning).cte(name)


def _sender_with_message() -> Prepared:
    """PostgreSQL: the sender's row (locked) and their message stored, a new sender's made first.

    One statement, so one round trip, of data-modifying CTEs each fed by the one before:

    - a known sender: their row, locked, and, when they have an open conversation, the
      message stored there, skipped (no open conversation) or ignored (a redelivered
      message) as ``insert_inbound`` does it;
    - a new sender (the look-up found nobody): the customer, the channel identity, the
      conversation and the message. When the identity exists already (the same new
      sender's other message won, in another process) its INSERT is skipped, so are the
      conversation and the message, and the customer row is left for the caller to remove
      (a statement's CTEs cannot see each other's rows).

    One row: the sender's columns (NULL: a new sender), the stored message's id, then for
    a new sender the customer's, the conversation's (NULL: the identity existed) and the
    message's ids.
    """
    sender = _SENDER_ON_POSTGRESQL.cte("sender")
    stored = _fed_by(
        _messages,
        "conversation_id",
        sender.c.id,
        _MESSAGE_VALUES,
        returning=_messages.c.id,
        unique=("conversation_id", "channel_message_id"),
        name="stored",
    )
    flag = bindparam("no", type_=_customers.c.phone_verified.type)
    new_customer = {
        "display_name": bindparam("display_name", type_=_customers.c.display_name.type),
        "created_at": bindparam("now", type_=_customers.c.created_at.type),
        "phone_verified": flag,
        "email_verified": flag,
    }
    customer = (
        insert(_customers)
        .from_select(
            list(new_customer), select(*new_customer.values()).where(~exists(select(sender.c.customer_id)))
        )
        .returning(_customers.c.id)
        .cte("customer")
    )
    identity = _fed_by(
        _identities,
        "customer_id",
        customer.c.id,
        {
            "channel": "channel",
            "external_id": "external_id",
            "reachable": "yes",
            "profile": "profile",
            "created_at": "now",
        },
        returning=_identities.c.customer_id,
        unique=("channel", "external_id"),
        name="identity",
    )
    conversation = _fed_by(
        _conversations,
        "customer_id",
        identity.c.customer_id,
        {
            "channel": "channel",
            "language": "language",
            "state": "state",
            "slots": "empty",
            "dialogue": "empty",
            "misunderstood_in_a_row": "zero",
            "started_at": "now",
            "updated_at": "now",
        },
        returning=_conversations.c.id,
        name="conversation",
    )
    first_message = _fed_by(
        _messages,
        "conversation_id",
        conversation.c.id,
        _MESSAGE_VALUES,
        returning=_messages.c.id,
        name="first_message",
    )
    one = select(literal_column("1").label("one")).subquery("one")  # a row whether the sender is known or not
    return Prepared(
        select(
            *sender.c,
            select(stored.c.id).scalar_subquery().label("message_id"),
            select(customer.c.id).scalar_subquery().label("new_customer_id"),
            select(conversation.c.id).scalar_subquery().label("new_conversation_id"),
            select(first_message.c.id).scalar_subquery().label("first_message_id"),
        ).select_from(one.outerjoin(sender, true()))
    )


_SENDER_WITH_MESSAGE = _sender_with_message()


def _unless_stored(table: Table, *unique: str) -> dict[str, Insert]:
    """INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING id, per dialect (None when it was there)."""
    return {
        name: insert_ignoring_conflict(name, table, *unique).returning(table.c.id)
        for name in ("sqlite", "postgresql")
    }


_MESSAGE = ("conversation_id", "direction", "sender", "text", "attachments", "created_at")
_INBOUND_ONCE = _unless_stored(_messages, "conversation_id", "channel_message_id")
_INBOUND = Prepared(_INBOUND_ONCE, (*_MESSAGE, "channel_message_id"))
_INBOUND_PARSED = Prepared(_INBOUND_ONCE, (*_MESSAGE, "channel_message_id", "nlu", "model_version"))
_NEW_CUSTOMER = Prepared(
    insert(_customers).returning(_customers.c.id),
    ("display_name", "created_at", "phone_verified", "email_verified"),
)
_NEW_IDENTITY = Prepared(
    _unless_stored(_identities, "channel", "external_id"),
    ("customer_id", "channel", "external_id", "reachable", "profile", "created_at"),
)
_FORGET_CUSTOMER = Prepared(delete(_customers).where(_customers.c.id == bindparam("customer")))
_NEW_CONVERSATION = Prepared(
    insert(_conversations).returning(_conversations.c.id),
    (
        "customer_id",
        "channel",
        "language",
        "state",
        "slots",
        "dialogue",
        "misunderstood_in_a_row",
        "started_at",
        "updated_at",
    ),
)
_SAVE_DIALOGUE = Prepared(
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation"))
    .values(
        dialogue=bindparam("new_dialogue"),
        slots=bindparam("new_slots"),
        active_loop=bindparam("new_active_loop"),
        misunderstood_in_a_row=bindparam("new_misunderstood"),
        updated_at=bindparam("now"),
    )
)
_TOUCH = Prepared(
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation"))
    .values(updated_at=bindparam("now"))
)


@dataclass(frozen=True)
class SenderRow:
    """A known sender and their open conversation in that channel (``conversation_id`` None: none)."""

    customer_id: int
    profile: dict[str, Any]
    reachable: bool
    display_name: str | None
    conversation_id: int | None
    state: ConversationState | None
    dialogue: dict[str, Any]

    def needs_update(self, profile: Mapping[str, Any] | None) -> bool:
        """Does ``update_sender`` have something to write (a new profile, reachable again)?"""
        if not self.reachable:
            return True
        if not profile:
            return False
        return {**self.profile, **profile} != self.profile or self.display_name is None


@dataclass(frozen=True)
class InboundRow:
    """A customer's message as it is stored: its text (checked by the caller), NLU result and time."""

    text: str
    channel_message_id: str | None
    attachments: Sequence[Mapping[str, Any]]
    nlu: Mapping[str, Any] | None
    model_version: str | None
    now: datetime

    def values(self) -> dict[str, Any]:
        """The row's values, as ``_SENDER_WITH_MESSAGE`` and the inbound INSERTs bind them."""
        return {
            "direction": Direction.IN,
            "sender": Sender.CUSTOMER,
            "text": self.text,
            "attachments": [dict(a) for a in self.attachments],
            "channel_message_id": self.channel_message_id,
            # None is left SQL NULL (never JSON null), and so is a version without a result
            "nlu": dict(self.nlu) if self.nlu is not None else None,
            "model_version": self.model_version if self.nlu is not None else None,
        }


async def sender_row(driver: Driver, channel: str, external_id: str) -> SenderRow | None:
    """The sender's customer and open conversation in one round trip; None for a new sender."""
    rows = await driver.rows(_SENDER, {"channel": channel, "external_id": external_id})
    return _sender(rows[0]) if rows else None


def _sender(row: Sequence[Any]) -> SenderRow:
    customer_id, profile, reachable, display_name, conversation_id, state, dialogue = row
    return SenderRow(
        int(customer_id),
        dict(profile or {}),
        bool(reachable),
        display_name,
        conversation_id,
        state,
        dict(dialogue or {}),
    )


@dataclass(frozen=True)
class Arrival:
    """Who sent a customer message and where it was stored (``sender_with_message``).

    ``sender`` is None for a new sender: ``new_sender`` then holds the customer and the
    conversation made for them, or is None too when a concurrent turn made this sender
    first (nothing of this call is kept: the caller asks again and finds theirs).
    ``message_id`` is None when nothing was stored: the sender has no open conversation
    (the caller opens one and stores the message there), the channel had delivered this
    message before, or the race was lost.
    """

    sender: SenderRow | None
    message_id: int | None
    new_sender: tuple[int, int] | None = None  # a first contact: the customer's and conversation's ids


async def sender_with_message(
    driver: Driver,
    channel: str,
    external_id: str,
    profile: Mapping[str, Any] | None,
    language: str | None,
    message: InboundRow,
) -> Arrival:
    """The sender (``sender_row``) with ``message`` stored; a new sender's customer made first.

    A known sender's message is stored as ``insert_inbound`` does when they have an open
    conversation; a first contact gets the customer with this channel identity and a
    conversation, the message in it. On PostgreSQL one round trip (``_SENDER_WITH_MESSAGE``,
    a second one only when a concurrent turn made this sender first, to remove this one's
    customer row); on SQLite, in process, ``sender_row`` and ``insert_inbound``, or
    ``create_sender``, ``start_conversation`` and ``insert_inbound``. Does not commit.
    """
    check_identity(channel, external_id)
    if driver.dialect.name != "postgresql":
        sender = await sender_row(driver, channel, external_id)
        if sender is not None:
            if sender.conversation_id is None:
                return Arrival(sender, None)
            return Arrival(sender, await insert_inbound(driver, sender.conversation_id, message))
        customer_id = await create_sender(driver, channel, external_id, profile, message.now)
        if customer_id is None:  # a concurrent turn made this sender first
            return Arrival(None, None)
        conversation_id = await start_conversation(driver, customer_id, channel, language, message.now)
        message_id = await insert_inbound(driver, conversation_id, message)
        return Arrival(None, message_id, (customer_id, conversation_id))
    values = {
        **message.values(),
        "display_name": display_name_of(profile or {}),
        "channel": channel,
        "external_id": external_id,
        "profile": dict(profile or {}),
        "language": language,
        "state": ConversationState.BOT,
        "empty": {},
        "zero": 0,
        "yes": True,
        "no": False,
        "now": message.now,
    }
    *sender_columns, message_id, customer_id, conversation_id, first_message_id = (
        await driver.rows(_SENDER_WITH_MESSAGE, values)
    )[0]
    if customer_id is None:  # a known sender
        return Arrival(_sender(sender_columns), int(message_id) if message_id is not None else None)
    if conversation_id is None:  # the identity was there: this customer row is the loser's
        await driver.rows(_FORGET_CUSTOMER, {"customer": customer_id})
        return Arrival(None, None)
    return Arrival(None, int(first_message_id), (int(customer_id), int(conversation_id)))


async def create_sender(
    driver: Driver,
    channel: str,
    external_id: str,
    profile: Mapping[str, Any] | None,
    now: datetime,
) -> int | None:
    """A new customer with this channel identity; their id, or None if a concurrent turn won.

    The loser's customer row is removed again; the caller then reads the winner's. Does not commit.
    """
    check_identity(channel, external_id)
    customer_id = await scalar(
        driver,
        _NEW_CUSTOMER,
        {
            "display_name": display_name_of(profile or {}),
            "created_at": now,
            "phone_verified": False,
            "email_verified": False,
        },
    )
    identity = await scalar(
        driver,
        _NEW_IDENTITY,
        {
            "customer_id": customer_id,
            "channel": channel,
            "external_id": external_id,
            "reachable": True,
            "profile": dict(profile or {}),
            "created_at": now,
        },
    )
    if identity is None:
        await driver.rows(_FORGET_CUSTOMER, {"customer": customer_id})
        return None
    return int(customer_id)


async def start_conversation(
    driver: Driver, customer_id: int, channel: str, language: str | None, now: datetime
) -> int:
    """A new conversation with the bot; its id. The caller knows there is no open one. Does not commit."""
    conversation_id = await scalar(
        driver,
        _NEW_CONVERSATION,
        {
            "customer_id": customer_id,
            "channel": channel,
            "language": language,
            "state": ConversationState.BOT,
            "slots": {},
            "dialogue": {},
            "misunderstood_in_a_row": 0,
            "started_at": now,
            "updated_at": now,
        },
    )
    return int(conversation_id)


async def insert_inbound(driver: Driver, conversation_id: int, message: InboundRow) -> int | None:
    """Store a customer's message with its NLU result; None if its channel message id is stored already.

    The text was checked (``check_text``) by the caller. Does not commit.
    """
    values = {"conversation_id": conversation_id, "created_at": message.now, **message.values()}
    statement = _INBOUND
    if message.nlu is None:  # left out, not None: a JSON column would store JSON null, not SQL NULL
        del values["nlu"], values["model_version"]
    else:
        statement = _INBOUND_PARSED
    inserted = await scalar(driver, statement, values)
    return int(inserted) if inserted is not None else None


def _replies(count: int) -> Prepared:
    """One INSERT of ``count`` bot replies: a turn's answer, the survey question, an introduction."""
    rows = [
        {column: bindparam(f"{column}_{i}", type_=_messages.c[column].type) for column in _MESSAGE}
        for i in range(count)
    ]
    return Prepared(insert(_messages).values(rows).returning(_messages.c.id))


MOST_REPLIES_AT_ONCE = 4  # more in one turn go in several INSERTs
_REPLIES = {count: _replies(count) for count in range(1, MOST_REPLIES_AT_ONCE + 1)}


@dataclass(frozen=True)
class StoredReplies:
    """The bot's replies of a turn, written in its transaction; their ids once sent.

    On PostgreSQL the INSERT goes out with the turn's COMMIT (``TransactionDriver.rows_later``),
    so a turn asks for the ids after committing; asking before sends the INSERT at once.
    """

    batches: tuple[Later, ...]

    async def ids(self) -> list[int]:
        """The replies' ids, in the order they were said."""
        ids: list[int] = []
        for batch in self.batches:
            ids.extend(sorted(int(row[0]) for row in await batch.rows()))
        return ids


async def insert_replies(
    driver: LaterDriver,
    conversation_id: int,
    texts: Sequence[str],
    now: datetime,
    attachments: Sequence[list[dict[str, Any]]] | None = None,
) -> StoredReplies:
    """Store the bot's replies of one turn, in order. Does not commit.

    ``attachments``: per reply, what is kept with it (its buttons: ``bot.store.buttons``).

    Up to four in one statement. Ids are handed out in the order the rows are written (one
    writer on SQLite; one sequence on PostgreSQL), so the ascending ids are the replies'.
    """
    for text in texts:
        check_text(text)
    batches: list[Later] = []
    for start in range(0, len(texts), MOST_REPLIES_AT_ONCE):
        batch = texts[start : start + MOST_REPLIES_AT_ONCE]
        values: dict[str, Any] = {}
        for i, text in enumerate(batch):
            values.update(
                {
                    f"conversation_id_{i}": conversation_id,
                    f"direction_{i}": Direction.OUT,
                    f"sender_{i}": Sender.BOT,
                    f"text_{i}": text,
                    f"attachments_{i}": attachments[start + i] if attachments else [],
                    f"created_at_{i}": now,
                }
            )
        batches.append(await driver.rows_later(_REPLIES[len(batch)], values))
    return StoredReplies(tuple(batches))


async def save_dialogue(
    driver: Driver,
    conversation_id: int,
    *,
    dialogue: dict[str, Any],
    slots: dict[str, Any],
    active_loop: str | None,
    misunderstood: int,
    now: datetime,
) -> None:
    """Write the conversation's dialogue state after a bot turn. Does not commit."""
    await driver.rows(
        _SAVE_DIALOGUE,
        {
            "conversation": conversation_id,
            "new_dialogue": dialogue,
            "new_slots": slots,
            "new_active_loop": active_loop,
            "new_misunderstood": misunderstood,
            "now": now,
        },
    )


async def touch_conversation(driver: Driver, conversation_id: int, now: datetime) -> None:
    """Mark the conversation as active now (a message the bot stays silent on). Does not commit."""
    await driver.rows(_TOUCH, {"conversation": conversation_id, "now": now})


_IDENTITY_PROFILE = Prepared(
    update(_identities)
    .where(
        _identities.c.channel == bindparam("key_channel"), _identities.c.external_id == bindparam("key_id")
    )
    .values(profile=bindparam("new_profile"), reachable=True)
)
_NAME_IF_NONE = Prepared(
    update(_customers)
    .where(_customers.c.id == bindparam("customer"), _customers.c.display_name.is_(None))
    .values(display_name=bindparam("name"))
)


async def update_sender(
    driver: Driver, channel: str, external_id: str, sender: SenderRow, profile: Mapping[str, Any] | None
) -> None:
    """A returning sender's new profile merged into the stored one; reachable again. Does not commit.

    The customer gets a display name from the profile if they had none.
    """
    merged = {**sender.profile, **(profile or {})}
    await driver.rows(
        _IDENTITY_PROFILE, {"key_channel": channel, "key_id": external_id, "new_profile": merged}
    )
    name = display_name_of(profile or {})
    if sender.display_name is None and name is not None:
        await driver.rows(_NAME_IF_NONE, {"customer": sender.customer_id, "name": name})


# A no-op UPDATE of a message still without an NLU result: it takes the row's lock.
_LOCK_UNPARSED = Prepared(
    update(_messages)
    .where(_messages.c.id == bindparam("message"), _messages.c.nlu.is_(None))
    .values(nlu=null())
    .returning(_messages.c.id)
)
_SET_NLU = Prepared(
    update(_messages)
    .where(_messages.c.id == bindparam("message"))
    .values(nlu=bindparam("new_nlu"), model_version=bindparam("new_model_version"))
)
_UPDATE_NLU = Prepared(
    update(_messages).where(_messages.c.id == bindparam("message")).values(nlu=bindparam("new_nlu"))
)
_STRANDED = Prepared(
    select(
        _messages.c.text,
        _messages.c.attachments,
        _messages.c.channel_message_id,
        _conversations.c.id,
        _conversations.c.customer_id,
        _conversations.c.channel,
        _conversations.c.state,
        _conversations.c.dialogue,
        _identities.c.external_id,
    )
    .select_from(
        _messages.join(_conversations, _conversations.c.id == _messages.c.conversation_id).join(
            _identities,
            (_identities.c.customer_id == _conversations.c.customer_id)
            & (_identities.c.channel == _conversations.c.channel),
        )
    )
    .where(_messages.c.id == bindparam("message"), *stranded_conditions())  # type: ignore[arg-type]
    .limit(1),
    # Planned at each run, not kept on the server: recovery is rare, and a generic plan made
    # while the tables were small scans every message for the "no later message" test.
    reused=False,
)


@dataclass(frozen=True)
class StrandedRow:
    """A stranded message with its conversation and the customer's id in that channel."""

    text: str
    attachments: list[dict[str, Any]]
    channel_message_id: str | None
    conversation_id: int
    customer_id: int
    channel: str
    state: ConversationState
    dialogue: dict[str, Any]
    external_id: str


async def lock_unparsed(driver: Driver, message_id: int) -> bool:
    """Lock a message that has no NLU result yet; False when it has one (answered meanwhile)."""
    return bool(await driver.rows(_LOCK_UNPARSED, {"message": message_id}))


async def stranded_turn(driver: Driver, message_id: int) -> StrandedRow | None:
    """The message if it is still stranded (``bot.store.stranded``), with what answering it needs."""
    rows = await driver.rows(_STRANDED, {"message": message_id})
    if not rows:
        return None
    (
        text,
        attachments,
        channel_message_id,
        conversation_id,
        customer_id,
        channel,
        state,
        dialogue,
        external,
    ) = rows[0]
    return StrandedRow(
        text,
        list(attachments or []),
        channel_message_id,
        int(conversation_id),
        int(customer_id),
        channel,
        state,
        dict(dialogue or {}),
        str(external),
    )


HANDLED_AS = "handled_as"
"""Key of a stored NLU result: how the dialogue read the message when not as the NLU did."""
FORM_ANSWER = "form_answer"  # a form's answer ("Анна", a phone number)
SURVEY_ANSWER = "survey_answer"  # "да" / "нет" / "5" to the satisfaction survey


def handled_by_dialogue(nlu: Mapping[str, Any] | None) -> bool:
    """The dialogue took the message as a form's or the survey's answer: understood, whatever the NLU said."""
    return nlu is not None and nlu.get(HANDLED_AS) in (FORM_ANSWER, SURVEY_ANSWER)


async def set_nlu(driver: Driver, message_id: int, nlu: Mapping[str, Any], model_version: str | None) -> None:
    """Keep the NLU's parse result with a stored message (editors and KPIs read it). Does not commit."""
    await driver.rows(
        _SET_NLU, {"message": message_id, "new_nlu": dict(nlu), "new_model_version": model_version}
    )


_CLEAR_NLU = Prepared(
    update(_messages).where(_messages.c.id == bindparam("message")).values(nlu=null(), model_version=null())
)
# On PostgreSQL a turn holds its customer's row lock; a turn that waited on the network takes it again.
_LOCK_CUSTOMER = Prepared(
    {
        "sqlite": select(_customers.c.id).where(_customers.c.id == bindparam("customer")),
        "postgresql": select(_customers.c.id)
        .where(_customers.c.id == bindparam("customer"))
        .with_for_update(),
    }
)


async def clear_nlu(driver: Driver, message_id: int) -> None:
    """Leave a stored message without its NLU result for now (SQL NULL: recovery's mark). Does not commit."""
    await driver.rows(_CLEAR_NLU, {"message": message_id})


async def lock_customer(driver: LaterDriver, customer_id: int) -> None:
    """Take the customer's row lock again (PostgreSQL; on SQLite the writer is the lock). Does not commit.

    On PostgreSQL the lock goes out with the transaction's next query (``rows_later``): it is
    taken before anything that query writes or reads.
    """
    await driver.rows_later(_LOCK_CUSTOMER, {"customer": customer_id})


async def update_nlu(driver: Driver, message_id: int, nlu: Mapping[str, Any]) -> None:
    """Replace a stored message's NLU result, its model version kept. Does not commit."""
    await driver.rows(_UPDATE_NLU, {"message": message_id, "new_nlu": dict(nlu)})
