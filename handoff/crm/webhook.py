"""The webhook adapter: POST each lead card as signed JSON to a URL the CRM side owns.

The contract (headers, signature, status codes) is documented in docs/crm.md; the
same :func:`sign`/:func:`verify_signature` pair is used by the CRM stub, so the two
sides cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from bot import __version__
from bot.errors import ConfigError
from handoff.crm.base import (
    AdapterOptions,
    BaseAdapter,
    CRMPermanentError,
    CRMTemporaryError,
    LeadCard,
    PushResult,
)
from handoff.crm.registry import register_adapter

log = logging.getLogger("botdesk.crm")

DEFAULT_SECRET_ENV = "BOTDESK_CRM_SECRET"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER = "X-Botdesk-Signature"
TIMESTAMP_HEADER = "X-Botdesk-Timestamp"
_RESERVED_HEADERS = {"content-type", "content-length", "host", "idempotency-key"}
_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_PERSONAL = re.compile(r"\+?\d[\d\s()\-]{6,}\d|[^@\s\"']+@[^@\s\"']+")


class WebhookOptions(AdapterOptions):
    url: str = Field(description="Where lead cards are POSTed (http or https)")
    secret_env: str | None = Field(
        default=DEFAULT_SECRET_ENV,
        pattern=_ENV_NAME,
        description="Environment variable with the HMAC secret; null sends unsigned requests",
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds for the whole request")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra, non-secret headers")
    authorization_env: str | None = Field(
        default=None,
        pattern=_ENV_NAME,
        description="Environment variable whose value is sent as the Authorization header",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("credentials do not belong in the URL; use authorization_env")
        return value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for header in value:
            lowered = header.lower()
            if lowered in _CREDENTIAL_HEADERS:
                raise ValueError(f"header '{header}' carries a credential; use authorization_env instead")
            if lowered in _RESERVED_HEADERS or lowered.startswith("x-botdesk-"):
                raise ValueError(f"header '{header}' is set by botdesk itself")
        return value


def sign(body: bytes, secret: str) -> str:
    """The ``X-Botdesk-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of a received signature header against the raw body."""
    if not header:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


def _env_value(variable: str | None, option: str) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"the webhook CRM adapter reads '{option}' from the environment variable {variable}, "
            f"which is not set; set it, or set {option}: null in the crm section of config.yml"
        )
    return value


@register_adapter
class WebhookAdapter(BaseAdapter):
    """POSTs :meth:`LeadCard.body` to ``url``; a 2xx or a 409 means the CRM has the card."""

    name: ClassVar[str] = "webhook"
    Options: ClassVar[type[AdapterOptions]] = WebhookOptions

    def __init__(
        self,
        options: AdapterOptions,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(options, WebhookOptions):
            raise TypeError("WebhookAdapter needs WebhookOptions")
        super().__init__(options, transport=transport)
        self.settings = options
        self._secret = _env_value(options.secret_env, "secret_env")
        self._authorization = _env_value(options.authorization_env, "authorization_env")
        self._clock = clock
        parts = urlsplit(options.url)
        self.where = f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query: it may hold a token
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=options.timeout,
            follow_redirects=False,
            headers={"User-Agent": f"botdesk/{__version__}"},
        )

    def headers_for(self, card: LeadCard, body: bytes) -> dict[str, str]:
        headers = dict(self.settings.headers)
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers[IDEMPOTENCY_HEADER] = card.idempotency_key
        headers[TIMESTAMP_HEADER] = str(int(self._clock()))
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        return headers

    async def push(self, card: LeadCard) -> PushResult:
        if not card.consent:
            raise CRMPermanentError("the card has no consent to process personal data; not sent")
        body = card.body()
        try:
            response = await self._client.post(
                self.settings.url, content=body, headers=self.headers_for(card, body)
            )
        except httpx.TimeoutException:
            raise CRMTemporaryError(
                f"CRM webhook {self.where} did not answer within {self.settings.timeout:g} s"
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise CRMPermanentError(f"CRM webhook {self.where}: {exc}") from None
        except httpx.TransportError as exc:
            raise CRMTemporaryError(
                f"CRM webhook {self.where} is unreachable ({type(exc).__name__})"
            ) from None
        result = interpret(response, self.name, self.where)
        log.info(
            "lead %s delivered to %s (HTTP %s%s)",
            card.idempotency_key,
            self.where,
            response.status_code,
            ", duplicate" if result.duplicate else "",
        )
        return result

    async def aclose(self) -> None:
        await self._client.aclose()


def interpret(response: httpx.Response, adapter: str, where: str) -> PushResult:
    """Map a CRM's HTTP answer onto delivered / temporary / permanent (see docs/crm.md)."""
    status = response.status_code
    if 200 <= status < 300:
        return PushResult(adapter, _crm_id(response), status)
    if status == 409:
        return PushResult(adapter, _crm_id(response), status, duplicate=True)
    if status in {408, 429} or status >= 500:
        raise CRMTemporaryError(
            f"CRM webhook {where} answered HTTP {status}{_snippet(response)}",
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise CRMPermanentError(
        f"CRM webhook {where} refused the card: HTTP {status}{_snippet(response)}", status=status
    )


def _crm_id(response: httpx.Response) -> str | None:
    try:
        data: Any = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("id", "lead_id", "crm_id"):
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    """A short, single-line excerpt of the answer, with anything like a phone or email masked."""
    text = " ".join(response.text.split())[:limit]
    return f": {_PERSONAL.sub('***', text)}" if text else ""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or odd."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
