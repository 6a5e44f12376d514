"""The operator's work through the panel API over real HTTP: queue, claim, reply, notes, transfer, close."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.project import Project
from bot.store import OutboxItem
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in, polled

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_a_customer_who_asks_for_a_person_is_in_the_queue(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna:
            queue = (await anna.get("/api/queue")).json()
            support = (await anna.get("/api/queue", params={"department": "support"})).json()
            unknown = await anna.get("/api/queue", params={"department": "nope"})
            departments = (await anna.get("/api/departments")).json()
    (ticket,) = queue["waiting"]
    assert queue["mine"] == []
    assert ticket["channel"] == "rest" and ticket["status"] == "queued"
    assert ticket["reason"] == "human_request" and ticket["operator"] is None
    assert ticket["last_customer_message"] == "позовите оператора"
    assert ticket["department"] == {"key": "support", "name": departments[0]["name"]}
    assert ticket["waiting_seconds"] >= 0 and isinstance(ticket["customer_id"], int)
    assert support["waiting"] == queue["waiting"]
    assert unknown.status_code == 422 and "неизвестный отдел" in unknown.json()["detail"]


async def test_two_operators_claim_at_once_and_exactly_one_wins(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        await add_operator(app, "boris", name="Борис")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            answers = await asyncio.gather(
                anna.post(f"/api/tickets/{ticket_id}/claim"), boris.post(f"/api/tickets/{ticket_id}/claim")
            )
            queues = [(await c.get("/api/queue")).json() for c in (anna, boris)]
        joined = [m["text"] for m in await polled(customer, "v1") if m["sender"] == "system"]
    assert sorted(a.status_code for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert "уже взял" in loser.json()["detail"]  # "Анна уже взяла…" or "Борис уже взял…"
    assert sorted(len(q["mine"]) for q in queues) == [0, 1]
    assert all(q["waiting"] == [] for q in queues)
    assert len([t for t in joined if "(оператор) подключил" in t]) == 1  # подключилась (Анна) or подключился


async def test_reply_reaches_the_rest_customer_and_quick_phrases_expand(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        seen = (await ask_for_a_person(customer, "v1"))[-1]["message_id"]
        async with logged_in(base, "anna") as anna:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            await anna.post(f"/api/tickets/{ticket_id}/claim")
            plain = await anna.post(f"/api/tickets/{ticket_id}/reply", json={"text": "Сейчас проверю заказ."})
            quick = await anna.post(f"/api/tickets/{ticket_id}/reply", json={"text": "/hi"})
            empty = await anna.post(f"/api/tickets/{ticket_id}/reply", json={"text": ""})
        messages = await polled(customer, "v1", seen)
    assert plain.status_code == 200
    assert plain.json()["sender"] == "operator" and plain.json()["sender_name"] == "Анна"
    assert quick.json()["text"] == "Здравствуйте! Меня зовут Анна, я помогу разобраться."
    assert empty.status_code == 422
    assert [(m["sender"], m["sender_name"], m["text"]) for m in messages[1:]] == [
        ("operator", "Анна", "Сейчас проверю заказ."),
        ("operator", "Анна", "Здравствуйте! Меня зовут Анна, я помогу разобраться."),
    ]


async def test_only_the_holder_may_reply(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await add_operator(app, "boris")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            unclaimed = await anna.post(f"/api/tickets/{ticket_id}/reply", json={"text": "привет"})
            await anna.post(f"/api/tickets/{ticket_id}/claim")
            intruder = await boris.post(f"/api/tickets/{ticket_id}/reply", json={"text": "привет"})
            missing = await anna.post("/api/tickets/999999/reply", json={"text": "привет"})
    assert unclaimed.status_code == intruder.status_code == 409
    assert "этот диалог не у вас" in intruder.json()["detail"]
    assert missing.status_code == 404


async def test_the_conversation_view_and_private_notes(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        await customer.post(
            "/webhooks/rest/webhook", json={"sender": "v1", "message": XSS, "metadata": {"name": "Ирина"}}
        )
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna:
            ticket = (await anna.get("/api/queue")).json()["waiting"][0]
            await anna.post(f"/api/tickets/{ticket['ticket_id']}/claim")
            note = await anna.post(
                f"/api/conversations/{ticket['conversation_id']}/notes", json={"text": "постоянный клиент"}
            )
            view = (await anna.get(f"/api/conversations/{ticket['conversation_id']}")).json()
            missing = await anna.get("/api/conversations/999999")
        told = await polled(customer, "v1")
    assert note.status_code == 200 and note.json()["author"] == "Анна"
    assert view["notes"] == [note.json()]
    assert "постоянный клиент" not in str(told)  # notes never reach the customer
    history = view["history"]
    assert history[0]["sender"] == "customer" and history[0]["text"] == XSS  # verbatim: escaping is the UI's
    assert history[0]["sender_name"] == "Ирина"
    assert {m["sender"] for m in history} >= {"customer", "bot", "system"}
    assert [m["id"] for m in history] == sorted(m["id"] for m in history)
    assert view["customer"]["display_name"] == "Ирина"
    assert view["customer"]["channels"] == [{"channel": "rest", "external_id": "v1", "reachable": True}]
    assert view["ticket"]["status"] == "claimed" and view["ticket"]["note"]["reason"] == "human_request"
    assert view["quick_phrases"]["/hi"].startswith("Здравствуйте! Меня зовут Анна")
    assert view["conversation"]["state"] == "operator"
    assert missing.status_code == 404


async def test_transfer_to_a_colleague_and_to_a_department(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        boris_id = await add_operator(app, "boris", name="Борис")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            await anna.post(f"/api/tickets/{ticket_id}/claim")
            both = await anna.post(
                f"/api/tickets/{ticket_id}/transfer", json={"operator_id": 1, "department": "x"}
            )
            to_boris = await anna.post(f"/api/tickets/{ticket_id}/transfer", json={"operator_id": boris_id})
            again = await anna.post(f"/api/tickets/{ticket_id}/transfer", json={"operator_id": boris_id})
            boris_mine = (await boris.get("/api/queue")).json()["mine"]
            to_support = await boris.post(
                f"/api/tickets/{ticket_id}/transfer", json={"department": "support"}
            )
            waiting = (await boris.get("/api/queue")).json()["waiting"]
        told = [m["text"] for m in await polled(customer, "v1")]
    assert both.status_code == 422
    assert to_boris.json() == {"ok": True} and again.status_code == 409
    assert [t["ticket_id"] for t in boris_mine] == [ticket_id]
    assert to_support.json() == {"ok": True}
    assert [t["ticket_id"] for t in waiting] == [ticket_id]
    assert any("Борис" in text for text in told)


async def test_return_to_the_bot_and_close(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await ask_for_a_person(customer, "v1")
        await ask_for_a_person(customer, "v2")
        async with logged_in(base, "anna") as anna:
            first, second = [t["ticket_id"] for t in (await anna.get("/api/queue")).json()["waiting"]]
            await anna.post(f"/api/tickets/{first}/claim")
            await anna.post(f"/api/tickets/{second}/claim")
            returned = await anna.post(f"/api/tickets/{first}/return")
            closed = await anna.post(f"/api/tickets/{second}/close", json={"resolution": "answered"})
            twice = await anna.post(f"/api/tickets/{second}/close", json={"resolution": "answered"})
            mine = (await anna.get("/api/queue")).json()["mine"]
        bot_again = await customer.post("/webhooks/rest/webhook", json={"sender": "v1", "message": "привет"})
    assert returned.json() == closed.json() == {"ok": True}
    assert twice.status_code == 409 and mine == []
    assert bot_again.json() and all(m["sender"] == "bot" for m in bot_again.json())  # the bot answers again


async def test_release_puts_the_dialogue_back(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            await anna.post(f"/api/tickets/{ticket_id}/claim")
            released = await anna.post(f"/api/tickets/{ticket_id}/release")
            queue = (await anna.get("/api/queue")).json()
    assert released.json() == {"ok": True}
    assert [t["ticket_id"] for t in queue["waiting"]] == [ticket_id] and queue["mine"] == []


async def test_a_lead_card_goes_to_the_outbox(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna:
            conversation_id = (await anna.get("/api/queue")).json()["waiting"][0]["conversation_id"]
            path = f"/api/conversations/{conversation_id}/leads"
            lead = {"name": "Ирина", "phone": "8 (912) 345-67-89", "interest": ["велосипед"], "consent": True}
            no_consent = await anna.post(path, json={**lead, "consent": False})
            bad_phone = await anna.post(path, json={**lead, "phone": "12"})
            card = await anna.post(path, json=lead)
        async with state_of(app).db.reader() as session:
            items = list((await session.execute(select(OutboxItem))).scalars())
    assert no_consent.status_code == bad_phone.status_code == 422
    assert "согласие" in no_consent.json()["detail"] and "телефон" in bad_phone.json()["detail"]
    assert card.status_code == 200
    assert card.json()["phone"] == "+79123456789" and card.json()["interest"] == ["велосипед"]
    (item,) = items
    assert item.kind == "crm.lead"
    assert item.payload["phone"] == "+79123456789" and item.payload["name"] == "Ирина"
    assert item.payload["consent"] is True


async def test_max_parallel_limits_claims(make_app: AppFactory, trained_ru: Project, tmp_path: Path) -> None:
    project = project_with(trained_ru, tmp_path / "bot", {"  max_parallel: 5 ": "  max_parallel: 1 "})
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        await add_operator(app, "boris", max_parallel=2)
        await ask_for_a_person(customer, "v1")
        await ask_for_a_person(customer, "v2")
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            first, second = [t["ticket_id"] for t in (await anna.get("/api/queue")).json()["waiting"]]
            ok = await anna.post(f"/api/tickets/{first}/claim")
            full = await anna.post(f"/api/tickets/{second}/claim")
            boris_me = (await boris.get("/api/me")).json()
            await anna.post(f"/api/tickets/{first}/close", json={"resolution": "answered"})
            room_again = await anna.post(f"/api/tickets/{second}/claim")
    assert ok.status_code == 200
    assert full.status_code == 409
    assert full.json()["detail"].startswith("Анна: уже открыт 1 диалог — больше одновременно нельзя")
    assert boris_me["max_parallel"] == 2  # a per-operator limit beats the config's
    assert room_again.status_code == 200


async def test_auto_assign_takes_turns_among_online_operators(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    project = project_with(trained_ru, tmp_path / "bot", {"  auto_assign: false ": "  auto_assign: true "})
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await add_operator(app, "boris")
        await add_operator(app, "vera")
        async with (
            logged_in(base, "anna") as anna,
            logged_in(base, "boris") as boris,
            logged_in(base, "vera") as vera,
        ):
            await vera.put("/api/me/status", json={"status": "away"})  # away: gets nothing
            for sender in ("v1", "v2", "v3", "v4"):
                await ask_for_a_person(customer, sender)

            async def mine(client: httpx.AsyncClient) -> int:
                return len((await client.get("/api/queue")).json()["mine"])

            counts: list[int] = []

            async def all_assigned() -> bool:
                counts[:] = [await mine(anna), await mine(boris), await mine(vera)]
                return sum(counts) == 4

            for _ in range(250):
                if await all_assigned():
                    break
                await asyncio.sleep(0.02)
            waiting = (await anna.get("/api/queue")).json()["waiting"]
    assert counts == [2, 2, 0]
    assert waiting == []


async def test_status_changes_are_announced(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        anna_id = await add_operator(app, "anna")
        async with logged_in(base, "anna") as anna:
            with state_of(app).events.subscribe() as events:
                await anna.put("/api/me/status", json={"status": "away"})
                event = await asyncio.wait_for(events.get(), 5)
            bad = await anna.put("/api/me/status", json={"status": "sleeping"})
            listed = (await anna.get("/api/operators")).json()
    assert (event.kind, event.data) == ("operator", {"operator_id": anna_id, "status": "away"})
    assert bad.status_code == 422
    assert [(o["login"], o["status"]) for o in listed] == [("admin", "away"), ("anna", "away")]
