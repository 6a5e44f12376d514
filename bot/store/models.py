"""The tables, as typed SQLAlchemy 2 models.

Every timestamp is timezone-aware UTC (``UTCDateTime``), every id an integer, every
free-form structure a JSON column. Constraints carry stable names (``NAMING``) so that
Alembic can alter them later, SQLite batch mode included. Models have no relationships
on purpose: in async code a lazy load is a bug, so repositories query explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

MAX_MESSAGE_CHARS = 4096
"""Longest message text stored; longer text is refused by the repository (``MessageRejected``)."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[Any]:
    return []


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend (SQLite has no time zones).

    A naive datetime is refused: it is a bug whose time zone nobody knows.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC timestamps")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them all in UTC, without an offset.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON columns notice in-place changes at the top level (``conversation.slots["x"] = 1``);
# a change deeper inside needs a new value assigned.
JSONDict = MutableDict.as_mutable(JSON)
JSONList = MutableList.as_mutable(JSON)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, storing the values."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class OperatorRole(StrEnum):
    OPERATOR = "operator"
    EDITOR = "editor"
    ADMIN = "admin"


class OperatorStatus(StrEnum):
    """Whether an operator takes new dialogues now (auto-assignment gives them only to ``online``)."""

    ONLINE = "online"
    AWAY = "away"


class ConversationState(StrEnum):
    """Who owns the conversation now."""

    BOT = "bot"  # the bot answers
    QUEUED = "queued"  # handed off, waiting in the operator queue
    OPERATOR = "operator"  # an operator has claimed it; the bot stays silent
    AFTER_HOURS = "after_hours"  # handed off outside working hours; a callback is due
    CLOSED = "closed"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Sender(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    OPERATOR = "operator"
    SYSTEM = "system"


class TicketStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    CLOSED = "closed"
    RETURNED = "returned"  # given back to the bot


class LeadKind(StrEnum):
    LEAD = "lead"
    CALLBACK = "callback"


class FeedbackAbout(StrEnum):
    """Whose answer the customer rated."""

    BOT = "bot"
    OPERATOR = "operator"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up after the maximum number of attempts


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[OperatorRole] = mapped_column(
        _enum(OperatorRole, "operator_role"), default=OperatorRole.OPERATOR
    )
    photo_url: Mapped[str | None] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[OperatorStatus] = mapped_column(
        _enum(OperatorStatus, "operator_status"), default=OperatorStatus.AWAY, server_default="away"
    )
    max_parallel: Mapped[int | None] = mapped_column(Integer)  # None: operators.max_parallel in config
    # The panel's language for this operator ("ru", "en"); None: the bot's language (config.yml).
    language: Mapped[str | None] = mapped_column(String(8))
    # "female" or "male": what sentences about the operator agree with ("Анна подключилась");
    # None: guessed from the display name where the language can (Russian first names), else neutral.
    grammatical_gender: Mapped[str | None] = mapped_column(String(8))


LIVE_PHRASE = "deleted_at IS NULL"


class QuickPhrase(Base):
    """An operator's canned answer, typed as its shortcut (``/hi``) in the reply box.

    Managed by admins in the panel; seeded once from ``operators.quick_phrases`` in
    config.yml. A deleted phrase keeps its row (``deleted_at``), so the seed never brings
    it back and the shortcut's history stays.
    """

    __tablename__ = "quick_phrases"
    __table_args__ = (
        # One live phrase per shortcut; deleted ones may share it.
        Index(
            "uq_quick_phrases_live_shortcut",
            "shortcut",
            unique=True,
            sqlite_where=text(LIVE_PHRASE),
            postgresql_where=text(LIVE_PHRASE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(1000))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OperatorRoleGrant(Base):
    """A role an admin gave an account on top of its own (``Operator.role``): rights are the union.

    An operator who also edits the bot's data keeps the operator role and is granted
    ``editor``; who granted it and when is kept. See ``bot.store.roles``.
    """

    __tablename__ = "operator_role_grants"
    __table_args__ = (UniqueConstraint("operator_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    role: Mapped[OperatorRole] = mapped_column(_enum(OperatorRole, "granted_role"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Base):
    """One wrong password (or one login attempt in progress), for the login throttle.

    Shared by every server process through the database. The login and the client
    address are kept only as SHA-256 digests: a password typed into the login field
    is not stored. Rows older than the throttle's window are deleted by the
    maintenance loop (``bot.store.login_failures``).
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_login_key_failed_at", "login_key", "failed_at"),
        Index("ix_login_failures_address_key_failed_at", "address_key", "failed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login_key: Mapped[str] = mapped_column(String(64))
    address_key: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OperatorSession(Base):
    """A panel login: the cookie's token is kept only as its SHA-256, so a stolen table opens nothing."""

    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    # Verified: the channel itself vouches for it (a Telegram contact shared by its own
    # user). Only verified contacts merge customers by themselves (bot.store.customers).
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MatchStatus(StrEnum):
    OPEN = "open"  # shown to operators
    MERGED = "merged"  # an operator merged the two
    DISMISSED = "dismissed"  # an operator said they are different people


class CustomerMatch(Base):
    """A "possibly the same customer as ..." suggestion: a typed phone or e-mail another customer has.

    A typed contact proves nothing (anyone can type anyone's number), so it never merges
    customers by itself; operators see the suggestion on the customer card and merge
    explicitly (``bot.store.matches``).
    """

    __tablename__ = "customer_matches"
    __table_args__ = (UniqueConstraint("customer_id", "other_customer_id", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    other_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # "phone" or "email"
    status: Mapped[MatchStatus] = mapped_column(_enum(MatchStatus, "match_status"), default=MatchStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerMerge(Base):
    """The audit of every merge of two customers: which into which, why, who, when.

    Ids and names of accounts only, no personal data, and no foreign keys on purpose:
    the record outlives the merged customer (deleted by the merge) and a forgotten one.
    """

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kept_customer_id: Mapped[int] = mapped_column(Integer, index=True)
    merged_customer_id: Mapped[int] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(64))  # "verified phone", "operator", ...
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    operator_login: Mapped[str | None] = mapped_column(String(64))  # kept if the account is deleted
    match_id: Mapped[int | None] = mapped_column(Integer)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelIdentity(Base):
    """How one customer is known in one channel (a Telegram user id, a widget visitor id)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=_empty_dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_customer_channel", "customer_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[ConversationState] = mapped_column(
        _enum(ConversationState, "conversation_state"), default=ConversationState.BOT
    )
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    slots: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=_empty_dict)
    active_loop: Mapped[str | None] = mapped_column(String(64))
    # The dialogue engine's whole state (DialogueState.to_dict()), so a restarted server
    # continues every dialogue; slots and active_loop above are its queryable summary.
    dialogue: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=_empty_dict)
    language: Mapped[str | None] = mapped_column(String(16))
    misunderstood_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


UNPARSED = "nlu IS NULL AND sender = 'customer'"  # the partial index's condition, as SQL


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A redelivered inbound message (same channel message id) is stored once.
        UniqueConstraint("conversation_id", "channel_message_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # Customer messages without an NLU result: the few the recovery sweep looks at
        # (bot.store.stranded), instead of every message of the last two days.
        Index(
            "ix_messages_unparsed",
            "created_at",
            sqlite_where=text(UNPARSED),
            postgresql_where=text(UNPARSED),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "message_direction"))
    sender: Mapped[Sender] = mapped_column(_enum(Sender, "message_sender"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(MAX_MESSAGE_CHARS), default="")
    attachments: Mapped[list[Any]] = mapped_column(JSONList, default=_empty_list)
    nlu: Mapped[dict[str, Any] | None] = mapped_column(JSONDict)
    model_version: Mapped[str | None] = mapped_column(String(64))
    channel_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HandoffTicket(Base):
    """A conversation waiting for, or held by, an operator."""

    __tablename__ = "handoff_tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[TicketStatus] = mapped_column(
        _enum(TicketStatus, "ticket_status"), default=TicketStatus.QUEUED
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(64))
    note: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=_empty_dict)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# The operator queue: queued first, highest priority first, then oldest.
Index(
    "ix_handoff_tickets_queue",
    HandoffTicket.status,
    HandoffTicket.priority.desc(),
    HandoffTicket.created_at,
)
# The department's latest pickups: what a waiting customer's estimate is measured on.
Index("ix_handoff_tickets_pickups", HandoffTicket.department_id, HandoffTicket.claimed_at)


class ConversationLabel(Base):
    """A label an operator put on a dialogue ("возврат", "vip"); the queue can be filtered by it."""

    __tablename__ = "conversation_labels"
    __table_args__ = (Index("ix_conversation_labels_label", "label", "conversation_id"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(40), primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OperatorNote(Base):
    """A private note on a conversation: operators see it, the customer never does."""

    __tablename__ = "operator_notes"
    __table_args__ = (Index("ix_operator_notes_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(MAX_MESSAGE_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lead(Base):
    """A lead card or a callback request, as the CRM receives it."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    kind: Mapped[LeadKind] = mapped_column(_enum(LeadKind, "lead_kind"), default=LeadKind.LEAD)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interest: Mapped[list[Any]] = mapped_column(JSONList, default=_empty_list)
    channel: Mapped[str] = mapped_column(String(32))
    transcript: Mapped[list[Any]] = mapped_column(JSONList, default=_empty_list)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxItem(Base):
    """Work for the outside world (a CRM push), written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Feedback(Base):
    """One satisfaction survey: written when the customer is asked, filled in when they answer.

    A row without ``answered_at`` is a survey the customer ignored, so the response rate
    is known; ``score`` (1..5) is optional even when ``helpful`` is given.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
        Index("ix_feedback_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="SET NULL"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    about: Mapped[FeedbackAbout] = mapped_column(_enum(FeedbackAbout, "feedback_about"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    helpful: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnnotationAction(StrEnum):
    """What an editor (or an operator, as a proposal) decided about an inbox message."""

    ASSIGN = "assign"  # an example of an existing intent
    NEW_INTENT = "new_intent"  # the first example of a new intent, with its answer
    OUT_OF_SCOPE = "out_of_scope"  # a question the shop does not answer
    IGNORE = "ignore"  # noise: off the inbox, into no file


class AnnotationStatus(StrEnum):
    PROPOSED = "proposed"  # by an operator, waiting for an editor
    APPROVED = "approved"  # approved, not written yet (a write failed)
    REJECTED = "rejected"
    APPLIED = "applied"  # written into intents/*.yml (or, for ignore, just recorded)


class Annotation(Base):
    """An inbox message labelled for training; ``text`` is what goes into the YAML (masked by default)."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(String(MAX_MESSAGE_CHARS))
    action: Mapped[AnnotationAction] = mapped_column(_enum(AnnotationAction, "annotation_action"))
    intent: Mapped[str | None] = mapped_column(String(100))
    response: Mapped[str | None] = mapped_column(String(MAX_MESSAGE_CHARS))
    file: Mapped[str | None] = mapped_column(String(200))
    masked: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[AnnotationStatus] = mapped_column(
        _enum(AnnotationStatus, "annotation_status"), default=AnnotationStatus.PROPOSED
    )
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ModelPublication(Base):
    """A model put into service from the editor pages: who, when, and what the gate said."""

    __tablename__ = "model_publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    previous_version: Mapped[str | None] = mapped_column(String(64))
    published_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    gate: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=_empty_dict)
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredFileRow(Base):
    """A file kept in the file store (``bot.files``): its metadata, and whose it is.

    The bytes live outside the database, under ``id`` (the store's random id). A file
    belongs to the conversation and message it was sent in; who may read it is decided
    from them (``bot.store.files``). A file without a message (an upload whose message was never
    stored, a message deleted or blanked, a forgotten customer) is an orphan the maintenance
    sweep deletes with its bytes.
    """

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_orphans", "message_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    sender: Mapped[Sender] = mapped_column(_enum(Sender, "message_sender"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(  # indexed first in ix_files_orphans
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    source_id: Mapped[str | None] = mapped_column(String(255))  # the platform's id (Telegram's)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailHeader(Base):
    """A mail of the e-mail channel by its Message-ID: which conversation (thread) it belongs to.

    One row per mail a customer sent (``outbound`` False) and per mail botdesk sent
    (True): a reply naming either in In-Reply-To/References continues that conversation;
    our answers name the customer's latest mail, under its subject; and our own mail
    coming back is known as ours (``bot.store.email_threads``). Goes with its conversation.
    """

    __tablename__ = "email_headers"
    __table_args__ = (Index("ix_email_headers_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    header_id: Mapped[str] = mapped_column(String(255), unique=True)  # Message-ID (hashed if longer)
    reply_to: Mapped[str | None] = mapped_column(String(998))  # the Message-ID as sent, to answer it
    outbound: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
