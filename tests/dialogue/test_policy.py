"""Rules and stories pick the next action deterministically."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.policy import Policy
from bot.dialogue.stories import load_dialogue_data, validate_references
from bot.dialogue.tracker import Tracker
from bot.errors import DataError
from tests.helpers.projects import write

STORIES = """\
version: "3.1"
slots:
  phone:
    type: text
    mappings:
    - type: from_entity
      entity: phone
forms:
  lead_form:
    required_slots: [phone]
rules:
- rule: say hello once at the start
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_intro_menu
- rule: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
- rule: start the lead form
  steps:
  - intent: callback_request
  - action: lead_form
  - active_loop: lead_form
- rule: submit the lead form
  condition:
  - active_loop: lead_form
  steps:
  - action: lead_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_lead_saved
stories:
- story: thanks after delivery question
  steps:
  - intent: delivery_terms
  - action: utter_delivery_terms
  - intent: thanks
  - action: utter_thanks_for_delivery_question
"""
RESPONSES = {
    "utter_greet",
    "utter_intro_menu",
    "utter_goodbye",
    "utter_delivery_terms",
    "utter_thanks",
    "utter_thanks_for_delivery_question",
    "utter_lead_saved",
}
INTENTS = {"greet", "goodbye", "delivery_terms", "thanks", "callback_request"}


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    data = load_dialogue_data([write(tmp_path / "stories.yml", STORIES)])
    validate_references(data, INTENTS, RESPONSES)
    return Policy(data, RESPONSES)


def run(policy: Policy, tracker: Tracker, intent: str) -> list[str]:
    """Predict and 'execute' actions until the policy has nothing more to say."""
    tracker.user(intent)
    done = []
    for _ in range(10):
        prediction = policy.predict(tracker)
        if prediction is None or prediction.action in done[-1:]:
            break
        tracker.action(prediction.action)
        done.append(prediction.action)
        if prediction.action == "lead_form":
            tracker.set_loop("lead_form")
            break
    return done


def test_conversation_start_rule_only_at_the_start(policy: Policy) -> None:
    tracker = Tracker()
    assert run(policy, tracker, "greet") == ["utter_greet", "utter_intro_menu"]
    assert run(policy, tracker, "greet") == ["utter_greet"]  # the intent's own answer, no menu again


def test_rule_and_default_answer(policy: Policy) -> None:
    tracker = Tracker()
    assert run(policy, tracker, "goodbye") == ["utter_goodbye"]
    assert run(policy, tracker, "delivery_terms") == ["utter_delivery_terms"]


def test_story_uses_the_earlier_turn(policy: Policy) -> None:
    tracker = Tracker()
    run(policy, tracker, "delivery_terms")
    assert run(policy, tracker, "thanks") == ["utter_thanks_for_delivery_question"]
    other = Tracker()
    assert run(policy, other, "thanks") == ["utter_thanks"]


def test_form_rules(policy: Policy) -> None:
    tracker = Tracker()
    assert run(policy, tracker, "callback_request") == ["lead_form"]
    tracker.set_slot("phone", "+79123456789")
    tracker.action("lead_form")
    tracker.set_loop(None)
    tracker.set_slot("requested_slot", None)
    prediction = policy.predict(tracker)
    assert prediction is not None and prediction.action == "utter_lead_saved"


def test_same_history_same_action(policy: Policy) -> None:
    results = set()
    for _ in range(5):
        tracker = Tracker()
        run(policy, tracker, "delivery_terms")
        results.add(tuple(run(policy, tracker, "thanks")))
    assert len(results) == 1


def test_tracker_survives_json(policy: Policy) -> None:
    import json

    tracker = Tracker()
    run(policy, tracker, "delivery_terms")
    restored = Tracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
    assert run(policy, restored, "thanks") == ["utter_thanks_for_delivery_question"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("- intent: goodbye", "- intent: goodbyee"), "unknown intent 'goodbyee'; did you mean 'goodbye'"),
        (("- action: utter_goodbye", "- action: utter_goodby"), "unknown action 'utter_goodby'"),
        (("    - requested_slot: null", "    - phonee: null"), "unknown slot 'phonee'"),
        (("  steps:\n  - intent: goodbye", "  stepz:\n  - intent: goodbye"), "did you mean 'steps'"),
        (("- intent: goodbye", "- checkpoint: x"), "checkpoints belong in stories"),
    ],
)
def test_bad_stories_name_the_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path / "stories.yml", STORIES.replace(*change, 1))
    with pytest.raises(DataError, match=message) as caught:
        validate_references(load_dialogue_data([path]), INTENTS, RESPONSES)
    assert caught.value.line is not None
