"""The webhook adapter against httpx.MockTransport: headers, signature, every kind of answer."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import httpx
import pytest

from bot.errors import ConfigError
from handoff.crm import (
    CRMAdapter,
    CRMPermanentError,
    CRMTemporaryError,
    PushResult,
    WebhookAdapter,
    WebhookOptions,
    verify_signature,
)
from handoff.crm.webhook import parse_retry_after
from tests.helpers.crm import SECRET, make_card

URL = "https://crm.example.test/hooks/botdesk?token=abc"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTDESK_CRM_SECRET", SECRET)


def adapter(handler: Handler, **options: object) -> WebhookAdapter:
    return WebhookAdapter(
        WebhookOptions.model_validate({"url": URL, **options}),
        transport=httpx.MockTransport(handler),
        clock=lambda: 1_795_000_000.7,
    )


async def test_request_is_signed_json_with_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "L-17"})

    card = make_card()
    async with adapter(handler, headers={"X-Shop": "velomarket"}) as crm:
        assert isinstance(crm, CRMAdapter)
        result = await crm.push(card)
    assert result == PushResult("webhook", "L-17", 201)
    (request,) = seen
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Idempotency-Key"] == card.idempotency_key
    assert request.headers["X-Botdesk-Timestamp"] == "1795000000"
    assert request.headers["X-Shop"] == "velomarket"
    assert request.headers["User-Agent"].startswith("botdesk/")
    expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Botdesk-Signature"] == f"sha256={expected}"
    assert verify_signature(request.content, request.headers["X-Botdesk-Signature"], SECRET)
    assert not verify_signature(request.content + b" ", request.headers["X-Botdesk-Signature"], SECRET)
    assert json.loads(request.content) == card.payload()
    assert request.content == card.body()


async def test_unsigned_when_secret_env_is_null_and_authorization_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_AUTH", "Bearer t0ken")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok")

    async with adapter(handler, secret_env=None, authorization_env="CRM_AUTH") as crm:
        result = await crm.push(make_card())
    assert result.crm_id is None and result.status == 200
    assert "X-Botdesk-Signature" not in seen[0].headers
    assert seen[0].headers["Authorization"] == "Bearer t0ken"


async def test_200_is_delivered_and_409_is_delivered_as_duplicate() -> None:
    answers = iter([httpx.Response(200, json={"lead_id": 5}), httpx.Response(409, json={"id": "L-5"})])
    async with adapter(lambda request: next(answers)) as crm:
        card = make_card()
        first = await crm.push(card)
        again = await crm.push(card)
    assert (first.crm_id, first.duplicate) == ("5", False)
    assert (again.crm_id, again.duplicate, again.status) == ("L-5", True, 409)


@pytest.mark.parametrize("status", [500, 502, 503, 408])
async def test_server_errors_are_temporary(status: int) -> None:
    async with adapter(lambda request: httpx.Response(status, text="upstream down")) as crm:
        with pytest.raises(CRMTemporaryError) as caught:
            await crm.push(make_card())
    assert caught.value.status == status and caught.value.retry_after is None
    assert f"HTTP {status}: upstream down" in str(caught.value)
    assert "token=abc" not in str(caught.value)  # the query may hold a credential


async def test_429_with_retry_after_is_temporary_with_the_delay() -> None:
    async with adapter(lambda request: httpx.Response(429, headers={"Retry-After": "30"})) as crm:
        with pytest.raises(CRMTemporaryError) as caught:
            await crm.push(make_card())
    assert caught.value.status == 429 and caught.value.retry_after == 30.0


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadError("x"),
    ],
)
async def test_network_failures_are_temporary(error: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with adapter(handler, timeout=1.5) as crm:
        with pytest.raises(CRMTemporaryError) as caught:
            await crm.push(make_card())
    assert caught.value.status is None
    if isinstance(error, httpx.TimeoutException):
        assert "within 1.5 s" in str(caught.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 301])
async def test_other_refusals_are_permanent(status: int) -> None:
    body = {"error": "bad phone +7 999 123 45 67 for anna@example.ru"}
    async with adapter(lambda request: httpx.Response(status, json=body)) as crm:
        with pytest.raises(CRMPermanentError) as caught:
            await crm.push(make_card())
    assert caught.value.status == status
    message = str(caught.value)
    assert f"HTTP {status}" in message and "bad phone" in message
    assert "123 45" not in message and "anna@" not in message  # personal data masked


async def test_a_card_without_consent_is_never_sent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be called")

    async with adapter(handler) as crm:
        with pytest.raises(CRMPermanentError, match="consent"):
            await crm.push(make_card(consent=False, consent_at=None))


def test_missing_secret_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOTDESK_CRM_SECRET")
    with pytest.raises(ConfigError, match="BOTDESK_CRM_SECRET, which is not set"):
        WebhookAdapter(WebhookOptions(url=URL))


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"url": "ftp://crm.example"}, "http:// or https://"),
        ({"url": "https://user:pw@crm.example/x"}, "credentials"),
        ({"url": URL, "headers": {"Authorization": "Bearer x"}}, "authorization_env"),
        ({"url": URL, "headers": {"X-Botdesk-Signature": "x"}}, "set by botdesk"),
        ({"url": URL, "timeout": 0}, "greater than 0"),
        ({"url": URL, "secret_env": "not a name"}, "pattern"),
        ({"url": URL, "secret": "inline"}, "Extra inputs"),
    ],
)
def test_options_refuse_mistakes_and_inline_secrets(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        WebhookOptions.model_validate(options)


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 23 Nov 2026 10:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
