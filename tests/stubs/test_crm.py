"""The CRM stub in-process (ASGI transport): it keeps the webhook contract strictly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.stubs.crm import MAX_BODY_BYTES, FailRequest, create_stub_app, parse_fail
from handoff.crm import sign
from tests.helpers.crm import SECRET, make_card


@pytest.fixture
async def stub(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_stub_app(tmp_path / "crm.db", SECRET)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stub") as client:
        yield client


def signed(body: bytes, key: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Botdesk-Signature": sign(body, secret),
    }


async def test_stores_a_signed_card_once_and_409s_a_repeat(stub: httpx.AsyncClient) -> None:
    card = make_card()
    body = card.body()
    first = await stub.post("/leads", content=body, headers=signed(body, card.idempotency_key))
    assert first.status_code == 201
    lead_id = first.json()["id"]
    again = await stub.post("/leads", content=body, headers=signed(body, card.idempotency_key))
    assert again.status_code == 409 and again.json()["id"] == lead_id
    listed = (await stub.get("/leads")).json()["leads"]
    assert [lead["id"] for lead in listed] == [lead_id]
    assert listed[0]["card"] == card.payload() and listed[0]["idempotency_key"] == card.idempotency_key
    assert (await stub.get(f"/leads/{lead_id}")).json()["card"]["phone"] == "+79991234567"
    assert (await stub.get("/leads/crm-999")).status_code == 404
    assert (await stub.get("/healthz")).json() == {"status": "ok", "leads": 1}


async def test_missing_or_wrong_signature_is_401(stub: httpx.AsyncClient) -> None:
    card = make_card()
    body = card.body()
    headers = signed(body, card.idempotency_key, secret="wrong")
    assert (await stub.post("/leads", content=body, headers=headers)).status_code == 401
    del headers["X-Botdesk-Signature"]
    assert (await stub.post("/leads", content=body, headers=headers)).status_code == 401
    assert (await stub.get("/healthz")).json()["leads"] == 0


async def test_invalid_card_is_422_without_echoing_personal_data(stub: httpx.AsyncClient) -> None:
    body = make_card().body().replace(b"+79991234567", b"89991234567")
    answer = await stub.post("/leads", content=body, headers=signed(body, "x" * 32))
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["loc"] == ["phone"]
    assert "9991234567" not in answer.text
    garbage = b"\xff not json"
    assert (await stub.post("/leads", content=garbage, headers=signed(garbage, "x" * 32))).status_code == 422


async def test_idempotency_header_must_match_the_signed_card(stub: httpx.AsyncClient) -> None:
    card = make_card()
    body = card.body()
    answer = await stub.post("/leads", content=body, headers=signed(body, "another-key-123"))
    assert answer.status_code == 400


async def test_huge_body_is_413(stub: httpx.AsyncClient) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert (await stub.post("/leads", content=body, headers=signed(body, "x" * 32))).status_code == 413


async def test_fail_switch_counts_down_and_can_be_cleared(stub: httpx.AsyncClient) -> None:
    card = make_card()
    body = card.body()
    headers = signed(body, card.idempotency_key)
    state = (await stub.post("/_fail", json={"status": 503, "count": 2, "retry_after": 7})).json()
    assert state == {"status": 503, "remaining": 2, "retry_after": 7}
    for _ in range(2):
        answer = await stub.post("/leads", content=body, headers=headers)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "7"
    assert (await stub.post("/leads", content=body, headers=headers)).status_code == 201
    await stub.post("/_fail", json={"status": 500})
    assert (await stub.post("/leads", content=body, headers=headers)).status_code == 500
    assert (await stub.post("/leads", content=body, headers=headers)).status_code == 500
    await stub.delete("/_fail")
    assert (await stub.get("/_fail")).json()["status"] is None
    assert (await stub.post("/leads", content=body, headers=headers)).status_code == 409
    assert (await stub.post("/_fail", json={"status": 200})).status_code == 422


async def test_without_a_secret_unsigned_pushes_are_accepted(tmp_path: Path) -> None:
    app = create_stub_app(tmp_path / "crm.db")
    card = make_card()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stub") as client:
        answer = await client.post(
            "/leads", content=card.body(), headers={"Idempotency-Key": card.idempotency_key}
        )
    assert answer.status_code == 201


def test_parse_fail() -> None:
    assert parse_fail("500") == FailRequest(status=500, count=None)
    assert parse_fail(" 429:3 ") == FailRequest(status=429, count=3)
    for bad in ("oops", "200", "500:x"):
        with pytest.raises(ValueError, match="STATUS:COUNT"):
            parse_fail(bad)
