"""Escalation rules, each on its own and in the configured order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.escalation import Escalator, Turn, TurnContext
from bot.errors import ConfigError
from bot.nlu.base import IntentScore, Message
from bot.project import load_checked_config
from bot.settings import IntentRoles
from tests.helpers.projects import REPO, write

ROLES = IntentRoles(human_only=["complaint", "human_request", "order_cancel", "change_order"])


def message(
    intent: str,
    confidence: float = 0.9,
    text: str = "...",
    reason: str | None = None,
    runner_up: tuple[str, float] | None = None,
) -> Message:
    ranking = [IntentScore(intent if intent != "nlu_fallback" else "order_status", confidence)]
    if runner_up:
        ranking.append(IntentScore(*runner_up))
    return Message(text=text, intent=IntentScore(intent, confidence), ranking=ranking, fallback_reason=reason)


def turn(
    msg: Message, previous: list[Turn] | None = None, misunderstood: int = 0, feedback: bool = False
) -> TurnContext:
    return TurnContext(msg, previous or [], misunderstood, feedback, ROLES)


@pytest.fixture
def escalator() -> Escalator:
    config = load_checked_config(REPO / "config.yml")
    return Escalator.from_specs([(s.name, s.options()) for s in config.escalation.rules])


def test_plain_faq_question_stays_with_the_bot(escalator: Escalator) -> None:
    assert escalator.decide(turn(message("delivery_terms"))) is None


def test_complaint_has_priority(escalator: Escalator) -> None:
    result = escalator.decide(turn(message("complaint")))
    assert result is not None and result.reason == "complaint" and result.priority == 10


def test_explicit_request_for_a_human(escalator: Escalator) -> None:
    result = escalator.decide(turn(message("human_request")))
    assert result is not None and result.reason == "human_request"


def test_keyword_request_even_when_the_nlu_is_unsure(escalator: Escalator) -> None:
    msg = message("nlu_fallback", 0.2, text="дайте уже оператора наконец", reason="low_confidence")
    result = escalator.decide(turn(msg))
    assert result is not None and result.reason == "human_request"


def test_human_only_intent(escalator: Escalator) -> None:
    result = escalator.decide(turn(message("order_cancel")))
    assert result is not None and result.reason == "human_only" and "order_cancel" in result.detail


def test_ambiguous_goes_to_a_person_with_unsure() -> None:
    # The default bot asks "did you mean" instead (two_stage_fallback); unsure hands off at once.
    escalator = Escalator.from_specs([("unsure", {}), ("misunderstood", {})])
    msg = message("nlu_fallback", 0.61, reason="ambiguous", runner_up=("delivery_terms", 0.6))
    result = escalator.decide(turn(msg))
    assert result is not None and result.reason == "unsure" and "delivery_terms" in result.detail


def test_not_understood_twice_in_a_row(escalator: Escalator) -> None:
    first = message("nlu_fallback", 0.2, reason="low_confidence")
    assert escalator.decide(turn(first, misunderstood=0)) is None  # first time: did you mean / rephrase
    result = escalator.decide(turn(first, misunderstood=1))
    assert result is not None and result.reason == "two_stage_fallback" and "2 times" in result.detail


def test_misunderstood_counts_when_two_stage_fallback_is_off() -> None:
    specs: list[tuple[str, dict[str, object]]] = [
        ("two_stage_fallback", {"enabled": False}),
        ("misunderstood", {"times": 2}),
    ]
    first = message("nlu_fallback", 0.2, reason="low_confidence")
    assert Escalator.from_specs(specs).decide(turn(first, misunderstood=0)) is None
    result = Escalator.from_specs(specs).decide(turn(first, misunderstood=1))
    assert result is not None and result.reason == "misunderstood"
    # On, it counts the misses itself: misunderstood is not checked at all.
    on = Escalator.from_specs([("two_stage_fallback", {"misses": 3}), ("misunderstood", {"times": 2})])
    assert on.decide(turn(first, misunderstood=1)) is None


def test_repeated_question(escalator: Escalator) -> None:
    earlier = [Turn("delivery_terms", "сколько доставка", answered=True), Turn("thanks", "спасибо", True)]
    result = escalator.decide(turn(message("delivery_terms"), previous=earlier))
    assert result is not None and result.reason == "repeated_question"
    assert escalator.decide(turn(message("thanks"), previous=[Turn("thanks", "спс", True)])) is None


def test_no_to_did_this_help(escalator: Escalator) -> None:
    result = escalator.decide(turn(message("deny"), feedback=True))
    assert result is not None and result.reason == "did_not_help"
    assert escalator.decide(turn(message("deny"), feedback=False)) is None


def test_unknown_rule_in_config_is_clear(tmp_path: Path) -> None:
    text = (
        (REPO / "config.yml")
        .read_text(encoding="utf-8")
        .replace("- name: did_not_help", "- name: did_not_hlep")
    )
    with pytest.raises(
        ConfigError, match="unknown escalation rule 'did_not_hlep'; did you mean 'did_not_help'"
    ):
        load_checked_config(write(tmp_path / "config.yml", text))


def test_unknown_rule_option_is_clear(tmp_path: Path) -> None:
    text = (REPO / "config.yml").read_text(encoding="utf-8").replace("      times: 2", "      tims: 2")
    with pytest.raises(
        ConfigError, match="unknown option 'tims' for misunderstood; did you mean 'times'"
    ) as caught:
        load_checked_config(write(tmp_path / "config.yml", text))
    assert caught.value.line is not None


def test_bad_working_hours_in_config_are_clear(tmp_path: Path) -> None:
    text = (
        (REPO / "config.yml").read_text(encoding="utf-8").replace('daily: "09:00-21:00"', 'daily: "9 to 5"')
    )
    with pytest.raises(ConfigError, match="HH:MM-HH:MM"):
        load_checked_config(write(tmp_path / "config.yml", text))
