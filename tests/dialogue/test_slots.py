"""Slots with Rasa 3 semantics: mappings on every message, conditions, featurization in
rules, initial values; payloads; response variants; or steps and checkpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.slots import extract_slots, slot_matches
from bot.dialogue.state import DialogueState, TurnResult
from bot.dialogue.stories import DialogueData, load_dialogue_data, validate_references
from bot.dialogue.tracker import Tracker
from bot.errors import DataError
from bot.nlu.base import Entity, IntentScore, Message
from bot.settings import load_config
from tests.helpers.projects import REPO, write

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
INTENTS = {"greet", "inform", "book", "faq/opening", "faq/parking", "yes", "no", "chitchat"}
STORIES = """\
version: "3.1"
intents: [choose]
slots:
  city:
    type: text
    mappings:
    - type: from_entity
      entity: city
  cities:
    type: list
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: city
  lang:
    type: text
    initial_value: en
    influence_conversation: false
    mappings:
    - type: custom
  vip:
    type: bool
    mappings:
    - type: from_intent
      intent: yes
      value: true
      conditions:
      - active_loop: book_form
        requested_slot: vip
  mood:
    type: categorical
    values: [happy, sad]
    mappings:
    - type: from_entity
      entity: mood
  seats:
    type: float
    max_value: 10
    mappings:
    - type: from_entity
      entity: number
      conditions:
      - active_loop: book_form
  source:
    type: any
    mappings:
    - type: from_trigger_intent
      intent: book
      value: direct
  note:
    type: text
    influence_conversation: false
    mappings:
    - type: from_text
      not_intent: [no]
      conditions:
      - active_loop: book_form
        requested_slot: note
forms:
  book_form:
    ignored_intents: [chitchat]
    required_slots: [seats, vip, note]
rules:
- rule: a city we know
  steps:
  - intent: greet
  - slot_was_set:
    - city
  - action: utter_city_known
- rule: sad
  condition:
  - slot_was_set:
    - mood: sad
  steps:
  - intent: inform
  - action: utter_sorry
- rule: book
  steps:
  - or:
    - intent: book
    - intent: choose
  - action: book_form
  - active_loop: book_form
- rule: faq
  steps:
  - intent: faq
  - action: utter_faq
stories:
- story: part one
  steps:
  - intent: greet
  - action: utter_hi
  - checkpoint: greeted
- story: part two
  steps:
  - checkpoint: greeted
  - intent: no
  - action: utter_pity
"""
RESPONSES: dict[str, list[dict[str, Any]]] = {
    "utter_city_known": [{"text": "{city} it is."}],
    "utter_hi": [{"text": "Hi!"}],
    "utter_pity": [{"text": "Pity."}],
    "utter_sorry": [{"text": "Sorry to hear."}],
    "utter_ask_seats": [{"text": "How many seats?"}],
    "utter_ask_vip": [{"text": "VIP?"}],
    "utter_ask_note": [{"text": "A note?"}],
    "utter_faq/opening": [{"text": "We open at 9."}],
    "utter_faq/parking": [
        {"text": "Parking is free."},
        {"text": "Parking is free for VIPs.", "condition": [{"type": "slot", "name": "vip", "value": True}]},
        {"text": "Telegram parking.", "channel": "telegram"},
    ],
}


@pytest.fixture
def data(tmp_path: Path) -> DialogueData:
    loaded = load_dialogue_data([write(tmp_path / "stories.yml", STORIES)])
    validate_references(loaded, INTENTS, set(RESPONSES))
    return loaded


def bot(data: DialogueData) -> DialogueEngine:
    config = load_config(REPO / "config.yml")
    return DialogueEngine(
        config, RESPONSES, data, intents=sorted(INTENTS), entities=["city", "mood", "number"]
    )


def msg(text: str, intent: str, *entities: tuple[str, str]) -> Message:
    score = IntentScore(intent, 0.99)
    found = [Entity(name, value, 0, len(text), "test") for name, value in entities]
    return Message(text=text, intent=score, ranking=[score], entities=found)


def say(
    engine: DialogueEngine, state: DialogueState, message: Message, channel: str | None = None
) -> TurnResult:
    return asyncio.run(engine.handle(state, message, NOW, channel=channel))


def test_entities_fill_slots_on_any_message_and_steer_rules(data: DialogueData) -> None:
    engine, state = bot(data), DialogueState()
    result = say(engine, state, msg("hi from Kazan and Omsk", "greet", ("city", "Kazan"), ("city", "Omsk")))
    assert state.tracker.slots["city"] == "Omsk"  # a text slot takes the last value
    assert state.tracker.slots["cities"] == ["Kazan", "Omsk"]  # a list slot takes them all
    assert result.replies[-1].text == "Omsk it is."
    other = DialogueState()
    assert say(bot(data), other, msg("hi", "greet")).replies[-1].text == "Hi!"  # no city: the story


def test_categorical_slot_in_a_rule_condition(data: DialogueData) -> None:
    engine, state = bot(data), DialogueState()
    assert say(engine, state, msg("I am SAD", "inform", ("mood", "SAD"))).replies[-1].text == "Sorry to hear."
    happy = DialogueState()
    result = say(bot(data), happy, msg("happy", "inform", ("mood", "happy")))
    assert result.replies[-1].response == "fallback"  # no rule for a happy inform


def test_mapping_conditions_trigger_intent_and_ignored_intents(data: DialogueData) -> None:
    engine, state = bot(data), DialogueState()
    first = say(engine, state, msg("book 3 seats", "book", ("number", "3")))
    # The number maps to seats only while the form is active: the form asks for it.
    assert first.replies[-1].text == "How many seats?"
    assert state.tracker.slots["source"] == "direct"  # from_trigger_intent
    assert state.tracker.slots["lang"] == "en" and state.tracker.slots.get("vip") is None  # initial values
    say(engine, state, msg("3", "inform", ("number", "3")))
    assert state.tracker.slots["seats"] == "3"
    assert say(engine, state, msg("yes", "yes")).replies[-1].text == "A note?"
    chat = say(engine, state, msg("nice weather", "chitchat"))  # ignored by the form: not a note
    # Rejected by the form, and no rule answers chitchat: Rasa's fallback; the form waits on.
    assert state.tracker.slots.get("note") is None and chat.replies[-1].response == "fallback"
    assert state.tracker.active_loop == "book_form"
    assert say(engine, state, msg("window seat", "inform")).actions == ["book_form"]
    assert state.tracker.slots["note"] == "window seat" and state.tracker.active_loop is None


def test_or_steps_checkpoints_and_retrieval(data: DialogueData) -> None:
    assert {f.name for f in data.rules} >= {"book (1)", "book (2)"}
    assert [f.name for f in data.stories] == ["part one > part two"]
    engine, state = bot(data), DialogueState()
    say(engine, state, msg("hello", "greet"))
    assert say(engine, state, msg("no", "no")).replies[-1].text == "Pity."
    answer = say(engine, DialogueState(), msg("when do you open", "faq/opening"))
    assert answer.actions == ["utter_faq"] and answer.replies[-1].response == "utter_faq/opening"


def test_payloads_reach_intents_without_examples_and_carry_entities(data: DialogueData) -> None:
    engine, state = bot(data), DialogueState()
    result = say(engine, state, msg('/choose{"number": 4}', "nlu_fallback"))
    assert result.intent == "choose" and result.actions[0] == "book_form"
    assert [(e.entity, e.value) for e in result.entities] == [("number", "4")]
    assert say(bot(data), DialogueState(), msg("/unknown", "nlu_fallback")).intent == "nlu_fallback"


def test_response_variants_by_condition_then_channel(data: DialogueData) -> None:
    engine = bot(data)
    assert engine.say("utter_faq/parking").text == "Parking is free."
    assert engine.say("utter_faq/parking", vip=True).text == "Parking is free for VIPs."
    assert engine.say("utter_faq/parking", "telegram").text == "Telegram parking."


def test_featurization_as_rasa() -> None:
    assert slot_matches(None, "requested_slot", None, None)
    data = load_dialogue_data([])
    assert extract_slots(data, Tracker(), msg("x", "greet"), "greet") == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("      entity: city\n  cities", "      role: x\n  cities"), "needs 'entity'"),
        (("      not_intent: [no]", "      not_intent: [nope]"), "unknown intent 'nope'"),
        (("  - action: utter_pity", "  - action: utter_pity\n  - or:\n    - intent: no"), "'or'"),
        (("    values: [happy, sad]\n", ""), "needs 'values'"),
    ],
)
def test_bad_slots_and_steps_are_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path / "stories.yml", STORIES.replace(*change, 1))
    with pytest.raises(DataError, match=message):
        validate_references(load_dialogue_data([path]), INTENTS, set(RESPONSES))


def test_a_digression_without_an_unhappy_path_rule_leaves_the_form_waiting(data: DialogueData) -> None:
    engine, state = bot(data), DialogueState()
    say(engine, state, msg("book", "book"))
    answer = say(engine, state, msg("when do you open", "faq/opening"))
    # The form rejected the question, the faq rule answered it; no rule brings the form back
    # in this turn (Rasa), so it does not ask again, but it takes the next message first.
    assert answer.actions == ["utter_faq"] and state.tracker.active_loop == "book_form"
    assert say(engine, state, msg("3", "inform", ("number", "3"))).replies[-1].text == "VIP?"
