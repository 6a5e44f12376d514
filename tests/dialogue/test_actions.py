"""Custom actions: what the engine sends an action server, how it applies the answer, and
what a customer gets when the integration fails (a person, never silence).

The action server here is a FastAPI fake served for real on 127.0.0.1 that records each
request and answers what the test tells it (Rasa events and responses, an HTTP error, a
slow answer); tests/interop/test_rasa_projects.py runs rasa-sdk's own server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.actions.base import Executors
from bot.actions.endpoints import EndpointConfig, read_action_endpoint
from bot.actions.http import HttpActions, parse_http_action
from bot.actions.rasa_server import ActionServerClient
from bot.dialogue.effects import OpenTicket
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.state import DialogueState, TurnResult
from bot.dialogue.stories import load_dialogue_data, validate_references
from bot.errors import ConfigError
from bot.nlu.base import Entity, IntentScore, Message
from bot.settings import load_config
from tests.helpers.projects import REPO, write
from tests.live import serving

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 12:00 in Moscow: operators on duty
STORIES = """\
version: "3.1"
intents: [start_over]
actions: [action_lookup, action_rewind, validate_pizza_form]
slots:
  size:
    type: categorical
    values: [small, large]
    mappings:
    - type: from_entity
      entity: size
  topping:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: pizza_form
        requested_slot: topping
  note:
    type: any
    mappings:
    - type: custom
forms:
  pizza_form:
    required_slots: [size, topping]
rules:
- rule: lookup
  steps:
  - intent: lookup
  - action: action_lookup
- rule: pizza
  steps:
  - intent: order_pizza
  - action: pizza_form
  - active_loop: pizza_form
- rule: pizza done
  condition:
  - active_loop: pizza_form
  steps:
  - action: pizza_form
  - active_loop: null
  - action: utter_pizza_done
- rule: rewind
  steps:
  - intent: rewind
  - action: action_rewind
"""
RESPONSES: dict[str, list[dict[str, Any]]] = {
    "utter_found": [{"text": "Found {what}."}],
    "utter_ask_size": [{"text": "Small or large?"}],
    "utter_ask_topping": [{"text": "Which topping?"}],
    "utter_pizza_done": [
        {"text": "A {size} pizza with {topping}."},
        {
            "text": "A LARGE pizza with {topping}!",
            "condition": [{"type": "slot", "name": "size", "value": "large"}],
        },
    ],
    "utter_followed": [{"text": "Followed up."}],
    "utter_handoff_queued": [{"text": "A person will answer."}],
    "utter_integration_unavailable": [{"text": "The system is unavailable."}],
}


class FakeActionServer:
    """Answers POST /webhook with ``answer`` (a dict, or a Response); keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: Any = {"events": [], "responses": []}
        self.delay = 0.0
        self.app = FastAPI()

        @self.app.post("/webhook")
        async def webhook(request: Request) -> Response:
            self.requests.append(await request.json())
            if self.delay:
                await asyncio.sleep(self.delay)
            answer = self.answer
            if not isinstance(answer, (Response, dict)):  # a function of the request
                answer = answer(self.requests[-1])
            return answer if isinstance(answer, Response) else JSONResponse(answer)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeActionServer, str]]:
    fake = FakeActionServer()
    with serving(fake.app) as url:
        yield fake, f"{url}/webhook"


@pytest.fixture
def fake(server: tuple[FakeActionServer, str]) -> FakeActionServer:
    server[0].requests.clear()
    server[0].answer, server[0].delay = {"events": [], "responses": []}, 0.0
    return server[0]


def engine(tmp_path: Path, url: str, timeout: float = 2.0) -> DialogueEngine:
    config = load_config(REPO / "config.yml")
    data = load_dialogue_data([write(tmp_path / "stories.yml", STORIES)])
    validate_references(data, {"lookup", "order_pizza", "rewind", "inform"}, set(RESPONSES))
    client = ActionServerClient(EndpointConfig(url, timeout=timeout), set(data.actions))
    return DialogueEngine(
        config,
        RESPONSES,
        data,
        actions=Executors([client]),
        intents=["lookup", "order_pizza", "rewind", "inform"],
        entities=["size"],
    )


def say(
    bot: DialogueEngine, state: DialogueState, text: str, intent: str, entities: list[Entity] | None = None
) -> TurnResult:
    score = IntentScore(intent, 0.99)
    message = Message(text=text, intent=score, ranking=[score], entities=entities or [])
    return asyncio.run(bot.handle(state, message, NOW, sender_id="customer-7", channel="rest"))


def test_the_request_is_rasas_and_the_answer_is_applied(
    tmp_path: Path, fake: FakeActionServer, server: Any
) -> None:
    fake.answer = {
        "events": [
            {"event": "slot", "name": "note", "value": "vip", "timestamp": None},
            {"event": "followup", "name": "utter_followed"},
        ],
        "responses": [
            {"response": "utter_found", "what": "it", "buttons": [{"title": "ok", "payload": "/affirm"}]},
            {"text": "plain", "image": "https://example.org/a.png"},
            {"custom": {"kind": "card", "id": 7}},
        ],
    }
    bot, state = engine(tmp_path, server[1]), DialogueState()
    result = say(bot, state, "look it up", "lookup")
    request = fake.requests[0]
    assert request["next_action"] == "action_lookup" and request["sender_id"] == "customer-7"
    tracker = request["tracker"]
    assert tracker["latest_message"]["text"] == "look it up"
    assert tracker["latest_message"]["intent"]["name"] == "lookup"
    assert [e.get("name", e["event"]) for e in tracker["events"]][-2:] == ["action_listen", "user"]
    assert request["domain"]["forms"]["pizza_form"]["required_slots"] == ["size", "topping"]
    assert "action_lookup" in request["domain"]["actions"]
    said = result.replies[1:]  # after the introduction
    assert [r.text for r in said] == ["Found it.", "plain", "", "Followed up."]
    assert said[0].buttons == [{"title": "ok", "payload": "/affirm"}]
    assert said[1].image == "https://example.org/a.png" and said[2].custom == {"kind": "card", "id": 7}
    assert state.tracker.slots["note"] == "vip"
    assert result.actions == ["action_lookup", "utter_followed"] and result.escalation is None


@pytest.mark.parametrize(
    ("answer", "delay", "why"),
    [
        (Response(status_code=500), 0.0, "HTTP 500"),
        (Response(status_code=404, content=b'{"error": "no action"}'), 0.0, "HTTP 404"),
        (Response(content=b"not json", media_type="application/json"), 0.0, "not a JSON object"),
        ({"events": "not a list"}, 0.0, "must be lists"),
        (Response(content=b'{"events": [], "responses": []}' + b" " * 1_100_000), 0.0, "larger than"),
        ({"events": [], "responses": []}, 1.5, "timed out"),  # slower than the endpoint's timeout
    ],
    ids=["500", "404", "not-json", "malformed", "too-large", "timeout"],
)
def test_a_failing_action_server_hands_off(
    tmp_path: Path, fake: FakeActionServer, server: Any, answer: Any, delay: float, why: str
) -> None:
    fake.answer, fake.delay = answer, delay
    bot, state = engine(tmp_path, server[1], timeout=0.5), DialogueState()
    result = say(bot, state, "look it up", "lookup")
    assert result.escalation is not None and result.escalation.reason == "integration_unavailable"
    assert why in result.escalation.detail
    assert [r.response for r in result.replies[1:]] == [
        "utter_integration_unavailable",
        "utter_handoff_queued",
    ]
    assert isinstance(result.effects[0], OpenTicket)


def test_an_unreachable_action_server_hands_off(tmp_path: Path) -> None:
    bot = engine(tmp_path, "http://127.0.0.1:9/webhook")
    result = say(bot, DialogueState(), "look it up", "lookup")
    assert result.escalation is not None and result.escalation.reason == "integration_unavailable"


def test_form_validation_on_the_action_server(tmp_path: Path, fake: FakeActionServer, server: Any) -> None:
    def validate(request: dict[str, Any]) -> dict[str, Any]:
        events = request["tracker"]["events"]
        candidates = [e for e in events[-2:] if e["event"] == "slot"]  # what slots_to_validate() reads
        checked = []
        for event in candidates:
            value = event["value"]
            if event["name"] == "topping" and value == "pineapple":
                return {
                    "events": [{"event": "slot", "name": "topping", "value": None}],
                    "responses": [{"text": "No pineapple here."}],
                }
            checked.append({"event": "slot", "name": event["name"], "value": value})
        return {"events": checked, "responses": []}

    fake.answer = validate
    bot, state = engine(tmp_path, server[1]), DialogueState()
    assert say(bot, state, "a pizza please", "order_pizza").replies[-1].text == "Small or large?"
    large = Entity("size", "large", 0, 5, "test")
    assert say(bot, state, "large", "inform", [large]).replies[-1].text == "Which topping?"
    refused = say(bot, state, "pineapple", "nlu_fallback")
    assert [r.text for r in refused.replies] == ["No pineapple here.", "Which topping?"]
    done = say(bot, state, "mushrooms", "nlu_fallback")
    assert done.replies[-1].text == "A LARGE pizza with mushrooms!"  # the conditional variant
    assert state.tracker.active_loop is None
    assert all(r["next_action"] == "validate_pizza_form" for r in fake.requests)


def test_a_form_rejected_by_the_validation_action_lets_rules_answer(
    tmp_path: Path, fake: FakeActionServer, server: Any
) -> None:
    fake.answer = lambda request: Response(
        status_code=400, content=b'{"error": "not for me", "action_name": "validate_pizza_form"}'
    )
    bot, state = engine(tmp_path, server[1]), DialogueState()
    say(bot, state, "a pizza please", "order_pizza")
    large = Entity("size", "large", 0, 5, "test")
    result = say(bot, state, "large", "inform", [large])
    assert result.escalation is None
    assert "pizza_form" not in result.actions[:1]  # rejected: the form did not run first


def test_rewind_and_restart_events(tmp_path: Path, fake: FakeActionServer, server: Any) -> None:
    bot, state = engine(tmp_path, server[1]), DialogueState()
    say(bot, state, "look it up", "lookup")
    fake.answer = {"events": [{"event": "rewind"}], "responses": []}
    size = Entity("size", "small", 0, 5, "test")
    say(bot, state, "rewind small", "rewind", [size])
    assert state.tracker.latest_intent == "lookup"  # the message was taken back
    assert state.tracker.slots.get("size") is None  # and what it set
    fake.answer = {"events": [{"event": "restart"}], "responses": []}
    fresh = DialogueState()
    say(bot, fresh, "look it up", "lookup")
    assert fresh.tracker.history == []


def test_endpoints_yml_is_read_as_rasa_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path / "endpoints.yml",
        'action_endpoint:\n  url: "${ACTIONS_URL}"\n  token: "${ACTIONS_TOKEN:-s3cret}"\n  timeout: 3\n',
    )
    monkeypatch.setenv("ACTIONS_URL", "http://127.0.0.1:5055/webhook")
    endpoint = read_action_endpoint(tmp_path)
    assert endpoint is not None and endpoint.url == "http://127.0.0.1:5055/webhook"
    assert endpoint.query() == {"token": "s3cret"} and endpoint.timeout == 3.0
    monkeypatch.delenv("ACTIONS_URL")
    with pytest.raises(ConfigError, match="ACTIONS_URL"):
        read_action_endpoint(tmp_path)
    assert read_action_endpoint(tmp_path / "missing") is None


def test_http_action_maps_fields_and_reports_failures(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/items/{number}")
    async def item(number: str) -> JSONResponse:
        if number == "1":
            return JSONResponse({"name": "bell", "stock": {"count": 3}})
        if number == "2":
            time.sleep(0)  # an answer that is not JSON
            return JSONResponse(content=None, status_code=503)
        return JSONResponse({"error": "none"}, status_code=404)

    with serving(app) as url:
        spec = parse_http_action(
            "action_item",
            {
                "url": url + "/items/{item}",
                "slots": {"item_name": "name", "item_count": "stock.count"},
                "response": "utter_item",
                "not_found": "utter_no_item",
            },
            tmp_path / "x.yml",
            1,
        )
        actions = HttpActions({"action_item": spec})

        async def run(item: str) -> Any:
            return await actions.run("action_item", {"slots": {"item": item}}, {})

        found = asyncio.run(run("1"))
        assert found.events == [
            {"event": "slot", "name": "item_name", "value": "bell"},
            {"event": "slot", "name": "item_count", "value": 3},
        ]
        assert found.responses == [{"response": "utter_item", "item_name": "bell", "item_count": 3}]
        missing = asyncio.run(run("9"))
        assert missing.responses == [{"response": "utter_no_item"}]
        from bot.actions.base import ActionUnavailable

        with pytest.raises(ActionUnavailable):
            asyncio.run(run("2"))


def test_an_action_that_rejects_itself_lets_the_turn_go_on(
    tmp_path: Path, fake: FakeActionServer, server: Any
) -> None:
    fake.answer = Response(status_code=400, content=b'{"error": "not now", "action_name": "action_lookup"}')
    bot, state = engine(tmp_path, server[1]), DialogueState()
    result = say(bot, state, "look it up", "lookup")
    assert result.escalation is None and "action_lookup" not in result.actions
    assert result.replies[-1].response == "fallback"  # nothing else answers: the fallback, not a crash


def test_custom_payloads_reach_the_rest_answer() -> None:
    from bot.channels.rest import to_rasa
    from bot.messages import OutboundMessage

    message = OutboundMessage("rest", "u1", 1, "", "bot", "Bot", custom={"kind": "card"}, attachment="a.pdf")
    items = to_rasa(message)  # as Rasa's CollectingOutputChannel: each an item of its own
    assert [{k: v for k, v in item.items() if k in ("custom", "attachment")} for item in items] == [
        {"custom": {"kind": "card"}},
        {"attachment": "a.pdf"},
    ]


def test_custom_mapping_actions_slot_mapping_validation_and_pause(
    tmp_path: Path, fake: FakeActionServer, server: Any
) -> None:
    """A custom mapping's action and action_validate_slot_mappings run after each message
    that concerns them; ConversationPaused hands the dialogue to a person."""
    stories = STORIES.replace(
        "actions: [action_lookup, action_rewind, validate_pizza_form]",
        "actions: [action_lookup, action_rewind, validate_pizza_form, action_fill_note, "
        "action_validate_slot_mappings]",
    ).replace("    - type: custom\n", "    - type: custom\n      action: action_fill_note\n")
    config = load_config(REPO / "config.yml")
    data = load_dialogue_data([write(tmp_path / "custom.yml", stories)])
    validate_references(data, {"lookup", "order_pizza", "rewind", "inform"}, set(RESPONSES))
    client = ActionServerClient(EndpointConfig(server[1]), set(data.actions))
    bot = DialogueEngine(config, RESPONSES, data, actions=Executors([client]), intents=["lookup", "inform"])

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        action = request["next_action"]
        if action == "action_fill_note":
            return {"events": [{"event": "slot", "name": "note", "value": "from the action"}]}
        if action == "action_validate_slot_mappings":
            return {"events": [{"event": "slot", "name": "size", "value": "large"}]}
        return {"events": [{"event": "pause"}]}

    fake.answer = answer
    state = DialogueState()
    small = Entity("size", "SMALL", 0, 5, "test")
    result = say(bot, state, "look up a small one", "lookup", [small])
    assert [r["next_action"] for r in fake.requests] == [
        "action_fill_note",
        "action_validate_slot_mappings",
        "action_lookup",
    ]
    assert state.tracker.slots["note"] == "from the action" and state.tracker.slots["size"] == "large"
    assert result.escalation is not None and result.escalation.reason == "human_request"
