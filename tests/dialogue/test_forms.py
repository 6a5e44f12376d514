"""A project's own form: asks, validates, and hands over to its submit rule; global slots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.state import DialogueState, TurnResult
from bot.dialogue.stories import load_dialogue_data, validate_references
from bot.nlu.base import Entity, IntentScore, Message
from bot.project import load_checked_config
from tests.helpers.projects import REPO, write

STORIES = """\
version: "3.1"
slots:
  film:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: booking_form
        requested_slot: film
  seats:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: booking_form
        requested_slot: seats
  city:
    type: text
    mappings:
    - type: from_entity
      entity: city
forms:
  booking_form:
    required_slots: [film, seats]
rules:
- rule: start booking
  steps:
  - intent: book
  - action: booking_form
  - active_loop: booking_form
- rule: submit booking
  condition:
  - active_loop: booking_form
  steps:
  - action: booking_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_booked
- rule: city known
  steps:
  - intent: where
  - slot_was_set:
    - city: Казань
  - action: utter_kazan
"""
RESPONSES = {
    "utter_ask_film": [{"text": "Какой фильм?"}],
    "utter_ask_seats": [{"text": "Сколько мест?"}],
    "utter_booked": [{"text": "Забронировано: {film}, мест: {seats}."}],
    "utter_kazan": [{"text": "В Казани у нас два зала."}],
    "utter_where": [{"text": "Мы в нескольких городах."}],
}
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def engine(tmp_path: Path) -> DialogueEngine:
    config = load_checked_config(REPO / "config.yml").model_copy(update={})
    data = load_dialogue_data([write(tmp_path / "stories.yml", STORIES)])
    validate_references(data, {"book", "where", "deny", "affirm"}, set(RESPONSES))
    return DialogueEngine(config, RESPONSES, data)


def turn(bot: DialogueEngine, state: DialogueState, message: Message) -> TurnResult:
    return asyncio.run(bot.handle(state, message, NOW))


def msg(text: str, intent: str, entities: list[Entity] | None = None) -> Message:
    score = IntentScore(intent, 0.99)
    return Message(text=text, intent=score, ranking=[score], entities=entities or [])


def test_own_form_ends_in_its_submit_rule(tmp_path: Path) -> None:
    bot, state = engine(tmp_path), DialogueState()
    assert [r.text for r in turn(bot, state, msg("хочу билет", "book")).replies][-1] == "Какой фильм?"
    assert turn(bot, state, msg("Дюна", "nlu_fallback")).replies[-1].text == "Сколько мест?"
    done = turn(bot, state, msg("2", "nlu_fallback"))
    assert done.replies[-1].text == "Забронировано: Дюна, мест: 2."
    assert done.lead is None and not done.forget_form_answers
    assert state.tracker.active_loop is None


def test_slot_fills_from_an_entity_on_any_message(tmp_path: Path) -> None:
    bot, state = engine(tmp_path), DialogueState()
    city = Entity("city", "Казань", 10, 16, "test")
    result = turn(bot, state, msg("вы есть в Казани?", "where", [city]))
    assert result.replies[-1].text == "В Казани у нас два зала."
    other = turn(engine(tmp_path), DialogueState(), msg("где вы?", "where"))
    assert other.replies[-1].text == "Мы в нескольких городах."
