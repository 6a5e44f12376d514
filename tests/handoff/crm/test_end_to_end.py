"""The real webhook adapter against the real stub over real HTTP on 127.0.0.1.

Outages are real too: the stub answers 500 when told to, and is stopped and started
again on the same port and database while a push is pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from handoff.crm import CRMPermanentError, CRMTemporaryError, WebhookAdapter, WebhookOptions, build_adapter
from tests.helpers.crm import SECRET, StubServer, make_card

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def stub(tmp_path: Path) -> AsyncIterator[StubServer]:
    server = StubServer(tmp_path / "crm-stub.db", SECRET)
    await server.start()
    yield server
    if server.running:
        await server.stop()


@pytest.fixture
async def crm(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WebhookAdapter]:
    monkeypatch.setenv("BOTDESK_CRM_SECRET", SECRET)
    adapter = build_adapter({"adapter": "webhook", "url": f"{stub.url}/leads", "timeout": 5})
    assert isinstance(adapter, WebhookAdapter)
    yield adapter
    await adapter.aclose()


async def stored(stub: StubServer) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        leads: list[dict[str, object]] = (await client.get("/leads")).json()["leads"]
    return leads


async def test_a_card_is_stored_once_even_when_pushed_again(stub: StubServer, crm: WebhookAdapter) -> None:
    card = make_card()
    first = await crm.push(card)
    again = await crm.push(card)
    assert first.crm_id is not None and not first.duplicate and first.status == 201
    assert again.crm_id == first.crm_id and again.duplicate and again.status == 409
    other = await crm.push(make_card(kind="callback", interest=["callback_request"]))
    assert other.crm_id != first.crm_id
    leads = await stored(stub)
    assert [lead["id"] for lead in leads] == [first.crm_id, other.crm_id]
    assert leads[0]["card"] == card.payload()


async def test_concurrent_pushes_of_one_key_store_one_lead(stub: StubServer, crm: WebhookAdapter) -> None:
    card = make_card()
    results = await asyncio.gather(*(crm.push(card) for _ in range(8)))
    assert len({result.crm_id for result in results}) == 1
    assert sum(not result.duplicate for result in results) == 1
    assert len(await stored(stub)) == 1


async def test_wrong_secret_is_permanent(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_SECRET", "not-the-secret")
    options = WebhookOptions(url=f"{stub.url}/leads", secret_env="OTHER_SECRET")
    async with WebhookAdapter(options) as crm:
        with pytest.raises(CRMPermanentError) as caught:
            await crm.push(make_card())
    assert caught.value.status == 401
    assert await stored(stub) == []


async def test_a_failing_crm_is_temporary_until_it_recovers(stub: StubServer, crm: WebhookAdapter) -> None:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        assert (await client.post("/_fail", json={"status": 500, "count": 2})).status_code == 200
    card = make_card()
    for _ in range(2):
        with pytest.raises(CRMTemporaryError) as caught:
            await crm.push(card)
        assert caught.value.status == 500
    result = await crm.push(card)
    assert not result.duplicate and [lead["id"] for lead in await stored(stub)] == [result.crm_id]


async def test_429_carries_retry_after(stub: StubServer, crm: WebhookAdapter) -> None:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        await client.post("/_fail", json={"status": 429, "count": 1, "retry_after": 12})
    with pytest.raises(CRMTemporaryError) as caught:
        await crm.push(make_card())
    assert caught.value.status == 429 and caught.value.retry_after == 12.0


async def test_stub_down_is_temporary_and_restart_keeps_leads(stub: StubServer, crm: WebhookAdapter) -> None:
    delivered = make_card(conversation_id="conv-delivered")
    pending = make_card(conversation_id="conv-pending")
    first = await crm.push(delivered)

    await stub.stop()
    with pytest.raises(CRMTemporaryError, match="unreachable"):
        await crm.push(pending)
    with pytest.raises(CRMTemporaryError):
        await crm.push(delivered)

    await stub.start()  # same port, same database
    leads = await stored(stub)
    assert [lead["id"] for lead in leads] == [first.crm_id]
    retried = await crm.push(delivered)
    assert retried.duplicate and retried.crm_id == first.crm_id
    late = await crm.push(pending)
    assert not late.duplicate
    assert [lead["id"] for lead in await stored(stub)] == [first.crm_id, late.crm_id]
