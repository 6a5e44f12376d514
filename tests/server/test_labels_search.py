"""Labels and search over HTTP: an operator labels dialogues, filters the queue, finds a conversation."""

from __future__ import annotations

import httpx

from bot.store import OperatorRole
from tests.helpers.server import AppFactory, serve
from tests.server.api_helpers import WEBHOOK, add_operator, ask_for_a_person, logged_in


async def test_an_operator_labels_dialogues_filters_the_queue_and_searches(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customers:
        await add_operator(app, "anna", name="Анна")
        await ask_for_a_person(customers, "ivan", "позовите оператора, заказ 7788990 не пришёл")
        await ask_for_a_person(customers, "olga", "хочу поговорить с человеком о возврате")
        await customers.post(WEBHOOK, json={"sender": "petr", "message": "сколько стоит доставка?"})
        async with logged_in(base, "anna") as anna:
            waiting = (await anna.get("/api/queue")).json()["waiting"]
            ivan, olga = (t["conversation_id"] for t in waiting)
            assert all(t["labels"] == [] for t in waiting)

            added = await anna.post(f"/api/conversations/{ivan}/labels", json={"label": "  Доставка "})
            await anna.post(f"/api/conversations/{ivan}/labels", json={"label": "VIP"})
            await anna.post(f"/api/conversations/{olga}/labels", json={"label": "vip"})
            bad = await anna.post(f"/api/conversations/{ivan}/labels", json={"label": "<b>"})
            missing = await anna.post("/api/conversations/999/labels", json={"label": "vip"})
            in_use = (await anna.get("/api/labels")).json()
            vip_queue = (await anna.get("/api/queue", params={"label": "VIP"})).json()["waiting"]
            delivery_queue = (await anna.get("/api/queue", params={"label": "доставка"})).json()["waiting"]
            view = (await anna.get(f"/api/conversations/{ivan}")).json()

            by_number = (await anna.get("/api/search", params={"q": "7788990"})).json()
            by_word = (await anna.get("/api/search", params={"q": "возврат"})).json()
            by_label = (await anna.get("/api/search", params={"q": "оператора", "label": "доставка"})).json()
            nothing = (await anna.get("/api/search", params={"q": "холодильник"})).json()
            empty = await anna.get("/api/search", params={"q": ""})

            removed = await anna.delete(f"/api/conversations/{ivan}/labels/VIP")
    assert added.status_code == 200 and added.json() == {"conversation_id": ivan, "labels": ["доставка"]}
    assert bad.status_code == 422 and bad.json()["detail"].startswith("метка начинается с буквы или цифры")
    assert missing.status_code == 404
    assert in_use == [{"label": "vip", "count": 2}, {"label": "доставка", "count": 1}]
    assert {t["conversation_id"] for t in vip_queue} == {ivan, olga}
    assert [(t["conversation_id"], t["labels"]) for t in delivery_queue] == [(ivan, ["vip", "доставка"])]
    assert view["conversation"]["labels"] == ["vip", "доставка"]
    assert [(r["conversation_id"], r["matched"], r["channel"]) for r in by_number] == [
        (ivan, "message", "rest")
    ]
    assert "7788990" in by_number[0]["snippet"] and by_number[0]["labels"] == ["vip", "доставка"]
    assert [r["conversation_id"] for r in by_word] == [olga]
    assert [r["conversation_id"] for r in by_label] == [ivan]  # olga asked for a person too, unlabelled
    assert nothing == [] and empty.status_code == 422
    assert removed.json()["labels"] == ["доставка"]


async def test_labels_and_search_are_for_operators(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "vera", OperatorRole.EDITOR)
        async with logged_in(base, "vera") as vera:
            assert (await vera.get("/api/search", params={"q": "заказ"})).status_code == 403
            assert (await vera.post("/api/conversations/1/labels", json={"label": "x"})).status_code == 403
        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get("/api/labels")).status_code == 401
