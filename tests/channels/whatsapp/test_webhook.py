"""The webhook through real HTTP: verification, signed and wrongly signed calls, garbage, size, resends."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select

from bot.store import Message, Sender
from tests.channels.whatsapp.fake_graph import VERIFY_TOKEN, FakeGraph
from tests.helpers.server import AppFactory, serve, state_of

WA = "79001234567"
HOOK = "/webhooks/whatsapp"


async def customer_messages(app: object) -> int:
    async with state_of(app).db.reader() as session:  # type: ignore[arg-type]
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.sender == Sender.CUSTOMER)
        )
    return int(count or 0)


async def test_verification_echoes_the_challenge_only_for_our_verify_token(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as meta:
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        answer = await meta.get(HOOK, params=params)
        assert answer.status_code == 200 and answer.text == "1158201444"
        assert answer.headers["content-type"].startswith("text/plain")
        for wrong in (
            {**params, "hub.verify_token": "guess"},
            {**params, "hub.verify_token": ""},
            {**params, "hub.mode": "unsubscribe"},
            {"hub.challenge": "1"},
        ):
            refused = await meta.get(HOOK, params=wrong)
            assert refused.status_code == 403 and "1158201444" not in refused.text
        script = await meta.get(HOOK, params={**params, "hub.challenge": "<script>alert(1)</script>"})
        assert script.status_code == 400  # never echoed into a page


async def test_only_calls_signed_with_the_app_secret_are_read(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        webhook = base + HOOK
        payload = graph.text(WA, "как оплатить заказ?")
        for refused in (
            await graph.notify(webhook, payload, secret="not-the-app-secret"),
            await graph.notify(webhook, payload, signature=""),
            await graph.notify(webhook, payload, signature="sha256=" + "0" * 64),
            await graph.notify(webhook, payload, signature=graph.sign(b"{}")),  # another body's signature
        ):
            assert refused.status_code == 403
        assert await customer_messages(app) == 0 and graph.sent == []

        answer = await graph.notify(webhook, payload)
        assert answer.status_code == 200 and answer.json() == {"ok": True}
        await graph.wait(lambda: any("Оплатить" in t or "карты" in t for t in graph.texts(WA)))
        assert await customer_messages(app) == 1
        counters = dict(state_of(app).channels[-1].counters())
        assert counters["webhook_bad_signature"] == 4 and counters["messages_in"] == 1


async def test_a_resent_message_is_stored_and_answered_once(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        payload = graph.text(WA, "как оплатить заказ?")
        assert (await graph.notify(base + HOOK, payload)).status_code == 200
        await graph.wait(lambda: any("Ответ помог?" in t for t in graph.texts(WA)))  # the turn's last
        await asyncio.sleep(0.2)
        answered = len(graph.to(WA))
        for _ in range(3):  # Meta did not see our 200 and sends the same again
            assert (await graph.notify(base + HOOK, payload)).status_code == 200
        await asyncio.sleep(0.3)
        assert await customer_messages(app) == 1 and len(graph.to(WA)) == answered


async def test_garbage_gets_4xx_never_5xx_and_nothing_is_stored(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        webhook = base + HOOK
        for body in (
            b"not json",
            b"\xff\xfe\x00garbage",
            b'{"object": "whatsapp_business_account", "entry": [' * 40 + b"]}" * 40,
            b'"\\ud800"',
            b"[]",
            b"{}",
            b"null",
            b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":'
            b'[{"from":"7","id":1,"type":"text","text":{"body":["x"]}}]}}]}]}',
            json.dumps(graph.text(WA, "SURROGATE")).replace('"SURROGATE"', '"\\ud800"').encode(),
            json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": "x"}] * 1000}).encode(),
        ):
            answer = await graph.notify(webhook, body)
            assert 400 <= answer.status_code < 500 or answer.status_code == 200, (body[:60], answer.text)
        async with httpx.AsyncClient(base_url=base) as meta:
            huge = b'{"x": "' + b"a" * (4 * 1024 * 1024) + b'"}'
            too_big = await meta.post(HOOK, content=huge, headers={"X-Hub-Signature-256": graph.sign(huge)})
            assert too_big.status_code == 413
            unsigned = await meta.post(HOOK, json=graph.text(WA, "hi"))
            assert unsigned.status_code == 403
        assert await customer_messages(app) == 0


async def test_without_a_token_there_is_no_whatsapp(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as meta:
        assert state_of(app).router.get("whatsapp") is None
        assert (await meta.post(HOOK, json={"object": "whatsapp_business_account"})).status_code == 404
        assert (await meta.get(HOOK, params={"hub.mode": "subscribe"})).status_code == 404
