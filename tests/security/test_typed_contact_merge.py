"""A typed phone number does not make the typist another customer (issue 17, item 3).

The outside test: a widget visitor typed another customer's phone into the call-back
form and was merged with that customer, so the operator saw the victim's name and whole
history on the attacker's ticket. Now the typed number only suggests "possibly the same
customer" on the card; an operator merges explicitly, and the merge is audited.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.messages import InboundMessage
from bot.store import Conversation, OperatorRole, remember_contact
from tests.helpers.server import AppFactory, serve, state_of
from tests.server.api_helpers import WEBHOOK, add_operator, ask_for_a_person, logged_in

VICTIM_NAME = "Вера Викторовна"
VICTIM_SECRET = "мой заказ 5521 привезите на Лесную, 7"
VICTIM_PHONE = "+7 912 345-67-89"
CALLBACK = ["перезвоните мне", "Вася", VICTIM_PHONE, "да"]


async def say(client: httpx.AsyncClient, sender: str, text: str) -> None:
    answer = await client.post(WEBHOOK, json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text


async def attackers_ticket(base: str, operator: httpx.AsyncClient) -> dict[str, Any]:
    queue = (await operator.get("/api/queue")).json()
    waiting = queue["waiting"]
    assert len(waiting) == 1, waiting
    card: dict[str, Any] = (await operator.get(f"/api/conversations/{waiting[0]['conversation_id']}")).json()
    return card


async def test_a_typed_phone_shows_no_stranger_s_name_or_history_until_an_operator_merges(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as web:
        # The victim: a Telegram customer who gave her number in a call-back form, with a history.
        profile = {"first_name": "Вера", "last_name": "Викторовна"}
        for text in [VICTIM_SECRET, "перезвоните мне", "Вера", VICTIM_PHONE, "да"]:
            await state_of(app).conversations.handle(InboundMessage("telegram", "555", text, profile=profile))
        # The attacker: a new visitor who types her number into the call-back form.
        for text in CALLBACK:
            await say(web, "attacker-1", text)
        await ask_for_a_person(web, "attacker-1")
        await add_operator(app, "anna", name="Анна")
        await add_operator(app, "boss", OperatorRole.ADMIN)
        async with logged_in(base, "anna") as anna:
            card = await attackers_ticket(base, anna)
            customer, history = card["customer"], card["history"]
            # The attacker's ticket: not the victim's name, not a word of her history.
            assert customer["display_name"] != VICTIM_NAME
            assert all(VICTIM_SECRET not in m["text"] and m["sender_name"] != VICTIM_NAME for m in history)
            [match] = customer["possible_matches"]
            audit_before = await _merges(base)
            merged = await anna.post(f"/api/customer-matches/{match['match_id']}/merge")
            after = (await anna.get(f"/api/conversations/{card['conversation']['id']}")).json()
            again = await anna.post(f"/api/customer-matches/{match['match_id']}/merge")
        audit = await _merges(base)
    assert {m["conversation_id"] for m in history} == {card["conversation"]["id"]}
    assert (customer["phone"], customer["phone_verified"]) == ("+79123456789", False)
    # ... only the suggestion, which names who it might be.
    assert (match["display_name"], match["reason"], match["channels"]) == (VICTIM_NAME, "phone", ["telegram"])
    # The operator's explicit merge works and is recorded with her login.
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged_by"] == "anna" and merged.json()["kept_customer_id"] == match["customer_id"]
    assert after["customer"]["display_name"] == VICTIM_NAME and after["customer"]["possible_matches"] == []
    assert any(m["text"] == VICTIM_SECRET for m in after["history"])
    assert again.status_code == 404
    assert audit_before == []
    [entry] = audit
    assert (entry["kept_customer_id"], entry["merged_customer_id"]) == (match["customer_id"], customer["id"])
    assert (entry["reason"], entry["operator_login"], entry["match_id"]) == (
        "operator",
        "anna",
        match["match_id"],
    )


async def _merges(base: str) -> list[dict[str, Any]]:
    async with logged_in(base, "boss") as boss:
        answer = await boss.get("/api/admin/customer-merges")
    assert answer.status_code == 200, answer.text
    merges: list[dict[str, Any]] = answer.json()
    return merges


async def test_a_typed_phone_does_not_join_a_telegram_customer_whose_number_telegram_verified(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as web:
        state = state_of(app)
        said = await state.conversations.handle(
            InboundMessage(
                "telegram", "777", VICTIM_SECRET, profile={"first_name": "Вера", "last_name": "В."}
            )
        )
        async with state.db.session() as session:  # as the Telegram channel does for a shared own contact
            victim = (await session.get_one(Conversation, said.conversation_id)).customer_id
            await remember_contact(session, victim, phone="79123456789", verified=True)
            await session.commit()
        for text in CALLBACK:
            await say(web, "attacker-2", text)
        await ask_for_a_person(web, "attacker-2")
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as anna:
            card = await attackers_ticket(base, anna)
            audit = await anna.get("/api/admin/customer-merges")
    assert card["customer"]["display_name"] != "Вера В."
    assert all(m["channel"] == "rest" for m in card["history"])
    assert [m["channels"] for m in card["customer"]["possible_matches"]] == [["telegram"]]
    assert audit.status_code == 403, "operators cannot read the merge audit"
