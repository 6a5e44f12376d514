"""The CRM contract: the lead card, what a push returns or raises, and retry pacing.

Every CRM adapter speaks this contract, so the outbox worker needs no adapter-specific
code: a returned :class:`PushResult` means "delivered, mark it done", a
:class:`CRMTemporaryError` means "try again after :func:`retry_delay`", and a
:class:`CRMPermanentError` means "park it for a person; retrying will not help".
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Protocol, Self, runtime_checkable

import httpx
import phonenumbers
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.errors import BotdeskError

MAX_TRANSCRIPT_LINES = 20
MAX_LINE_CHARS = 2000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_KEY = r"^[A-Za-z0-9._:\-]{8,128}$"


# --- errors -----------------------------------------------------------------------------


class CRMError(BotdeskError):
    """A CRM push did not deliver the card."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CRMTemporaryError(CRMError):
    """Worth retrying: network error, timeout, 5xx, 429. ``retry_after`` is the CRM's wish, in seconds."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class CRMPermanentError(CRMError):
    """Retrying the same card will fail the same way (rejected card, bad credentials): park it."""


# --- the lead card ----------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _new_key() -> str:
    return uuid.uuid4().hex


class TranscriptLine(BaseModel):
    """One message of the conversation, as the CRM shows it to a salesperson."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: Literal["customer", "bot", "operator"]
    text: str
    at: AwareDatetime

    @field_validator("text")
    @classmethod
    def _shorten(cls, value: str) -> str:
        # A long message is cut, not refused: a lead is never lost over its transcript.
        return value if len(value) <= MAX_LINE_CHARS else value[: MAX_LINE_CHARS - 1] + "…"


class LeadCard(BaseModel):
    """What the CRM receives about an interested customer (a lead or a callback request).

    Personal fields (name, phone, email) are left out of ``repr`` so that a traceback or a
    log line never carries them. ``idempotency_key`` is made once, when the card is made,
    and travels with it through the outbox, so a retried push is recognised by the CRM.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200, repr=False)]
    phone: Annotated[str, Field(repr=False, description="E.164, e.g. +79991234567")]
    email: Annotated[str | None, Field(default=None, max_length=254, repr=False)] = None
    consent: bool
    consent_at: AwareDatetime | None = None
    channel: Annotated[str, Field(min_length=1, max_length=64)]
    customer_id: Annotated[str, Field(min_length=1, max_length=128)]
    conversation_id: Annotated[str, Field(min_length=1, max_length=128)]
    interest: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=list)
    last_messages: list[TranscriptLine] = Field(default_factory=list)
    source: Annotated[str, Field(min_length=1, max_length=128)] = "botdesk"
    kind: Literal["lead", "callback"] = "lead"
    created_at: AwareDatetime = Field(default_factory=_now)
    idempotency_key: Annotated[str, Field(pattern=_KEY)] = Field(default_factory=_new_key)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("name is empty")
        return value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        return to_e164(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _EMAIL.match(value):
            raise ValueError("not an email address")
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    @field_validator("last_messages")
    @classmethod
    def _keep_tail(cls, value: list[TranscriptLine]) -> list[TranscriptLine]:
        return value[-MAX_TRANSCRIPT_LINES:]

    @model_validator(mode="after")
    def _consent_has_a_time(self) -> LeadCard:
        if self.consent and self.consent_at is None:
            raise ValueError("consent_at is required when consent is given")
        if not self.consent and self.consent_at is not None:
            raise ValueError("consent_at is set but consent is false")
        return self

    def payload(self) -> dict[str, Any]:
        """The card as plain JSON types (datetimes as ISO 8601 strings)."""
        return self.model_dump(mode="json")

    def body(self) -> bytes:
        """The exact bytes sent to a CRM: compact UTF-8 JSON, keys sorted (stable signatures)."""
        return json.dumps(self.payload(), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def to_e164(raw: str) -> str:
    """Normalise an international number (``+7 999 123-45-67``) to E.164, or raise ValueError."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in international format (+country code)") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """``+79991234567`` -> ``+7999*****67``: enough to tell leads apart in a log, no more."""
    return phone if len(phone) < 8 else phone[:5] + "*" * (len(phone) - 7) + phone[-2:]


# --- the adapter contract ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushResult:
    """Returned only when the CRM has the card; ``duplicate`` when it already had it (409)."""

    adapter: str
    crm_id: str | None
    status: int | None = None
    duplicate: bool = False


@runtime_checkable
class CRMAdapter(Protocol):
    """What the outbox worker calls. ``push`` returns on delivery and raises CRMError otherwise."""

    name: ClassVar[str]

    async def push(self, card: LeadCard) -> PushResult: ...

    async def aclose(self) -> None: ...


class AdapterOptions(BaseModel):
    """Options of an adapter, from config.yml: unknown keys are errors, secrets are never here."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseAdapter:
    """Base of a CRM adapter: pushes one lead card to one CRM, registered by name.

    The outbox worker calls :meth:`push` for each lead, retries ``CRMTemporaryError`` with
    back-off and keeps ``CRMPermanentError`` as dead (shown by ``botdesk outbox``); the
    outbox's idempotency key travels on the card, so a retried push must not create a
    second lead. Registered adapters are built as ``cls(options, transport=...)``: the
    tests pass an ``httpx`` transport that reaches a local fake of the CRM's API; an
    adapter that does not talk HTTP ignores it.

    Args:
        options: the validated ``Options`` of the ``crm`` section (URL, token env, ...).
        transport: an ``httpx.AsyncBaseTransport`` to use instead of the network (tests).

    Usage (a module in ``handoff/crm/`` plus its name in ``handoff/crm/registry.py``)::

        @register_adapter
        class Pipedrive(BaseAdapter):
            name = "pipedrive"
            Options = PipedriveOptions

            async def push(self, card: LeadCard) -> PushResult:
                async with httpx.AsyncClient(transport=self.transport) as client:
                    answer = await client.post(self.options.url, json=card.payload())
                if answer.status_code >= 500:
                    raise CRMTemporaryError(f"CRM answered {answer.status_code}")
                if answer.status_code >= 400:
                    raise CRMPermanentError(f"CRM refused the lead: {answer.status_code}")
                return PushResult(self.name, str(answer.json()["id"]), answer.status_code)
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions

    def __init__(self, options: AdapterOptions, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.options = options
        self.transport = transport

    async def push(self, card: LeadCard) -> PushResult:
        """Create (or update) the lead in the CRM.

        Args:
            card: the lead: contact, interest, consent, the conversation's summary and the
                outbox's idempotency key.

        Returns:
            The CRM's id for the lead (shown to operators) and ``duplicate`` when the CRM
            already had this card (a retried push).

        Raises:
            CRMTemporaryError: try again later (network, 5xx, rate limits).
            CRMPermanentError: this card will never be accepted (4xx, bad data).
        """
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections; the default holds none."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# --- retry pacing (used by the outbox worker) -------------------------------------------


def next_backoff(
    attempt: int,
    *,
    base: float = 5.0,
    cap: float = 3600.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): ``base * 2**(attempt-1)``, capped.

    Jitter takes off up to ``jitter`` of the delay at random, so that many leads parked by
    one CRM outage do not all come back in the same second.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    exponent = min(attempt - 1, 60)
    delay = min(cap, base * math.pow(2.0, exponent))
    draw = rng.random() if rng is not None else random.random()
    return delay * (1.0 - jitter * draw)


def retry_delay(error: CRMTemporaryError, attempt: int, *, cap: float = 3600.0) -> float:
    """The wait after a temporary error: the CRM's ``Retry-After`` when it sent one, else backoff."""
    if error.retry_after is not None:
        return min(cap, max(0.0, error.retry_after))
    return next_backoff(attempt, cap=cap)
