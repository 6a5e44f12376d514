"""The two-stage fallback through the REST channel, as a Rasa client sees it over real HTTP.

Rasa's REST channel sends "Did you mean ...?" with its buttons in the answer list
(``{"recipient_id", "text", "buttons": [{"title", "payload"}]}``); the client posts a
button's payload back as the next message.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from tests.helpers.server import AppFactory, serve

WEBHOOK = "/webhooks/rest/webhook"
UNSURE = "насчет шлемов"  # availability or price? The NLU hesitates between the two.
UNCLEAR = "ну это самое короче"


def intent_of(payload: str) -> str:
    """``/price_request{"product": "шлемов"}`` -> price_request (the message's entities travel along)."""
    return payload[1:].split("{", 1)[0]


def question(items: list[dict[str, Any]]) -> dict[str, Any]:
    [item] = [i for i in items if i.get("buttons")]
    return item


async def test_did_you_mean_buttons_a_click_and_the_second_miss(
    make_app: AppFactory, trained_ru: Project, ru_pipeline: Pipeline
) -> None:
    parsed = ru_pipeline.parse(UNSURE)
    assert parsed.fallback_reason in ("ambiguous", "low_confidence"), parsed.ranking[:3]
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:

        async def say(sender: str, text: str) -> list[dict[str, Any]]:
            response = await client.post(WEBHOOK, json={"sender": sender, "message": text})
            assert response.status_code == 200
            items: list[dict[str, Any]] = response.json()
            return items

        asked = question(await say("rest-a", UNSURE))
        assert asked["text"].startswith("Вы имели в виду: ") and asked["text"].endswith("?")
        assert asked["recipient_id"] == "rest-a" and asked["sender_name"] == "🤖 Бот"
        *intents, other = asked["buttons"]
        assert other == {"title": "Другое", "payload": "/out_of_scope"}
        assert intents and all(b["payload"].startswith("/") for b in intents)
        names = [intent_of(b["payload"]) for b in intents]
        assert [b["title"] for b in intents] == [trained_ru.data.title(n) for n in names]  # human titles
        assert all(b["title"] in asked["text"] for b in intents)

        # A click is that intent: its answer, whatever the NLU made of the text.
        chosen = names[0]
        answer = await say("rest-a", intents[0]["payload"])
        answers = {v["text"] for v in trained_ru.data.responses[f"utter_{chosen}"]}
        assert answer[0]["text"] in answers

        # "Другое" asks to rephrase; the next message not understood goes to a person.
        question(await say("rest-b", UNSURE))
        rephrase = await say("rest-b", "/out_of_scope")
        assert "другими словами" in rephrase[0]["text"] and not rephrase[0].get("buttons")
        handed = await say("rest-b", UNCLEAR)
        # to a person: "Передаю ваш вопрос оператору…", or, with nobody at a panel, that it waits
        assert "оператор" in handed[0]["text"] and "другими словами" not in handed[0]["text"]
