"""Examples written into intents/*.yml: only the added lines change, comments and quotes stay."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from bot.editor.annotate import IntentFiles
from bot.errors import DataError
from bot.nlu.data import intent_files, load_training_data

FILE = """\
# Delivery questions. Keep the examples short.
version: "3.1"

nlu:
- intent: delivery_terms   # the most asked question
  examples: |
    - сколько стоит доставка?
    - доставка в [Казань](city)?
    # regional wording below
    - привезёте завтра?

- intent: store_address
  examples: |
    - где вы находитесь

responses:
  utter_delivery_terms:
  - text: "Доставка: 390 ₽, бесплатно от 5000 ₽."
    buttons:
    - title: "Где мой заказ?"
      payload: "/order_status"
  utter_store_address:
  - text: 'Москва, ул. Велосипедная, 12'
"""


def added(before: str, after: str) -> list[str]:
    lines = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]
    assert all(line.startswith("+") for line in lines), lines  # nothing removed or changed
    return [line[1:] for line in lines]


@pytest.fixture
def intents(tmp_path: Path) -> IntentFiles:
    (tmp_path / "intents").mkdir()
    (tmp_path / "intents" / "delivery.yml").write_text(FILE, encoding="utf-8")
    return IntentFiles(tmp_path / "intents")


def test_assigned_examples_are_the_whole_diff(intents: IntentFiles) -> None:
    path = intents.directory / "delivery.yml"
    result = intents.add_examples(
        "delivery_terms", ["а в Тверь   доставите?", "Сколько стоит доставка?", "[цена](x)?"]
    )
    assert result.added == ["а в Тверь доставите?", "(цена)(x)?"]  # one line each, no entity markup
    assert result.skipped == {"Сколько стоит доставка?": "already an example of this intent"}
    assert added(FILE, path.read_text(encoding="utf-8")) == ["    - а в Тверь доставите?", "    - (цена)(x)?"]
    data = load_training_data(intent_files(intents.directory))
    assert [e.text for e in data.examples if e.intent == "delivery_terms"][-2:] == [
        "а в Тверь доставите?",
        "(цена)(x)?",
    ]


def test_an_example_of_another_intent_is_not_copied(intents: IntentFiles) -> None:
    result = intents.add_examples("delivery_terms", ["Где вы находитесь"])
    assert result.added == [] and result.skipped == {
        "Где вы находитесь": "already an example of store_address"
    }
    assert (intents.directory / "delivery.yml").read_text(encoding="utf-8") == FILE


def test_a_new_intent_in_an_existing_file_adds_its_block_and_answer(intents: IntentFiles) -> None:
    path = intents.directory / "delivery.yml"
    intents.add_intent(
        "bike_rental", ["прокат есть?", "можно взять напрокат"], "Прокат: 500 ₽ в день.", "delivery"
    )
    assert added(FILE, path.read_text(encoding="utf-8")) == [
        "- intent: bike_rental",
        "  examples: |",
        "    - прокат есть?",
        "    - можно взять напрокат",
        "  utter_bike_rental:",
        '  - text: "Прокат: 500 ₽ в день."',
    ]
    data = load_training_data(intent_files(intents.directory))
    assert data.responses["utter_bike_rental"] == [{"text": "Прокат: 500 ₽ в день."}]


def test_a_new_intent_gets_its_own_file_by_default(intents: IntentFiles) -> None:
    result = intents.add_intent("gift_cards", ["есть сертификаты?"], "Да, от 1000 ₽.")
    assert result.path.name == "gift_cards.yml"
    data = load_training_data(intent_files(intents.directory))
    assert "gift_cards" in data.intents and "utter_gift_cards" in data.responses
    assert (intents.directory / "delivery.yml").read_text(encoding="utf-8") == FILE


def test_bad_names_and_unknown_intents_are_clear_errors(intents: IntentFiles) -> None:
    with pytest.raises(DataError, match="not valid"):
        intents.add_intent("Gift Cards", ["x"], "y")
    with pytest.raises(DataError, match="not valid"):
        intents.add_intent("gift", ["x"], "y", file="../config")
    with pytest.raises(DataError, match="not a placeholder of a slot"):
        intents.add_intent("gift", ["x"], "Скидка 5% {на всё")
    intents.add_intent("gift", ["x"], "Здравствуйте, {name}! Скобки: {{ }}")  # a slot and escaped braces
    with pytest.raises(DataError, match="no intent 'nope'"):
        intents.add_examples("nope", ["x"])
    (intents.directory / "broken.yml").write_text("nlu: [\n", encoding="utf-8")
    with pytest.raises(DataError, match="broken YAML"):
        intents.add_examples("delivery_terms", ["x"])
