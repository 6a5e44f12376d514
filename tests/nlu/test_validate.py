"""`botdesk data validate` rules that need no CLI around them."""

from __future__ import annotations

from bot.nlu.data import Example, TrainingData
from bot.nlu.validate import validate_data
from bot.project import load_checked_config
from tests.helpers.projects import REPO


def data() -> TrainingData:
    examples = [Example(f"mood {i}", "mood_great") for i in range(12)]
    examples += [Example(f"hello {i}", "greet") for i in range(12)]
    return TrainingData(
        examples=examples, responses={"utter_greet": [{"text": "hi"}], "utter_happy": [{"text": ":)"}]}
    )


def test_an_intent_answered_by_a_rule_needs_no_utter_response() -> None:
    config = load_checked_config(REPO / "config.yml")
    plain = [p.message for p in validate_data(data(), config) if p.level == "error"]
    assert any("intent 'mood_great' has no answer" in m for m in plain)
    with_rules = validate_data(
        data(), config, used_elsewhere={"utter_happy"}, answered_by_flows={"mood_great"}
    )
    assert not any("mood_great" in p.message for p in with_rules)
    assert not any("utter_happy" in p.message for p in with_rules)
