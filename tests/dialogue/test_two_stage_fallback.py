"""The two-stage fallback: "Вы имели в виду: …?", a click, "Другое", and the second miss to a person.

The engine gets the NLU's readings as the FallbackClassifier leaves them (``nlu_fallback``
with its ranking and reason), so each test says exactly how unsure the NLU was.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.escalation import Escalator, Turn, TurnContext
from bot.dialogue.state import DialogueState, TurnResult
from bot.nlu.base import FALLBACK_INTENT, Entity, IntentScore, Message
from bot.project import Project
from bot.settings import IntentRoles
from tests.helpers.projects import REPO, copy_project

DAYTIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 12:00 in Moscow: operators on duty


def unsure(
    text: str, reason: str, *ranking: tuple[str, float], entities: list[Entity] | None = None
) -> Message:
    """What the NLU gives a message it falls back on."""
    scores = [IntentScore(name, confidence) for name, confidence in ranking]
    return Message(
        text=text,
        intent=IntentScore(FALLBACK_INTENT, scores[0].confidence),
        ranking=scores,
        entities=list(entities or []),
        fallback_reason=reason,
    )


def sure(text: str, intent: str) -> Message:
    score = IntentScore(intent, 0.97)
    return Message(text=text, intent=score, ranking=[score])


def typed(text: str) -> Message:
    """A button's payload or a reply keyboard's title as the channel delivers it (the NLU saw nothing)."""
    return unsure(text, "low_confidence", ("out_of_scope", 0.9), ("greet", 0.01))


class Chat:
    def __init__(self, engine: DialogueEngine) -> None:
        self.engine = engine
        self.state = DialogueState(introduced=True)

    def send(self, message: Message) -> TurnResult:
        return asyncio.run(self.engine.handle(self.state, message, DAYTIME))


@pytest.fixture(scope="module")
def project() -> Project:
    return Project.open(REPO)


@pytest.fixture
def chat(project: Project) -> Chat:
    return Chat(project.engine(seed=1))


AMBIGUOUS = unsure(
    "доставка или самовывоз по оплате",
    "ambiguous",
    ("delivery_terms", 0.46),
    ("payment_methods", 0.41),
    ("store_address", 0.05),
)


def test_unsure_between_two_intents_asks_did_you_mean_with_their_titles(chat: Chat) -> None:
    result = chat.send(AMBIGUOUS)
    assert result.escalation is None
    [question] = result.replies
    assert question.text == "Вы имели в виду: Доставка или Способы оплаты?"
    assert question.buttons == [
        {"title": "Доставка", "payload": "/delivery_terms"},
        {"title": "Способы оплаты", "payload": "/payment_methods"},
        {"title": "Другое", "payload": "/out_of_scope"},
    ]
    assert question.response == "utter_ask_affirmation"
    # As a Rasa test story lists it: the loop action, then active_loop: action_two_stage_fallback.
    assert result.action_view() == ["action_two_stage_fallback"]
    assert [(s.kind, s.name) for s in result.events] == [("loop", "action_two_stage_fallback")]


def test_a_click_is_that_intent_and_answers_it(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    result = chat.send(typed("/payment_methods"))
    assert result.intent == "payment_methods" and result.escalation is None
    assert "utter_payment_methods" in result.actions
    assert chat.state.misunderstood_in_a_row == 0 and chat.state.clarify == []
    # Rasa's story of the click: the loop ends (active_loop: null), then the answer.
    assert result.action_view()[:2] == ["action_two_stage_fallback", "utter_payment_methods"]
    assert ("loop", "null") in [(s.kind, s.name) for s in result.events]
    # Understood again, so a later miss is a first miss: asked, not handed off.
    assert chat.send(AMBIGUOUS).escalation is None


def test_other_asks_to_rephrase_and_the_next_miss_goes_to_a_person(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    other = chat.send(typed("/out_of_scope"))
    assert other.escalation is None
    assert [r.response for r in other.replies] == ["utter_ask_rephrase"]
    assert "другими словами" in other.replies[0].text
    again = chat.send(unsure("ну это самое", "low_confidence", ("contacts", 0.3), ("greet", 0.2)))
    assert again.escalation is not None and again.escalation.reason == "two_stage_fallback"
    assert "2 times" in again.escalation.detail
    assert again.replies[-1].response == "utter_handoff_queued"


def test_other_then_a_clear_question_is_answered(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    chat.send(typed("/out_of_scope"))
    result = chat.send(sure("сколько стоит доставка в казань", "delivery_terms"))
    assert result.escalation is None and "utter_delivery_terms" in result.actions
    assert chat.state.misunderstood_in_a_row == 0


def test_typing_something_unclear_instead_of_choosing_is_the_second_miss(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    result = chat.send(unsure("ыыы", "ambiguous", ("greet", 0.3), ("thanks", 0.28)))
    assert result.escalation is not None and result.escalation.reason == "two_stage_fallback"
    assert "delivery_terms, payment_methods" in result.escalation.detail  # the operator sees what was offered


def test_a_title_typed_or_sent_by_a_reply_keyboard_is_that_intent(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    result = chat.send(typed("доставка"))
    assert result.intent == "delivery_terms" and "utter_delivery_terms" in result.actions
    chat.send(AMBIGUOUS)
    assert chat.send(typed("Другое")).replies[0].response == "utter_ask_rephrase"


def test_one_likely_intent_is_offered_alone_and_yes_takes_it(chat: Chat) -> None:
    result = chat.send(
        unsure(
            "есть щас шлемы размер L",
            "low_confidence",
            ("product_availability", 0.37),
            ("discounts", 0.14),
            ("change_order", 0.1),
        )
    )
    [question] = result.replies
    assert [b["payload"] for b in question.buttons] == ["/product_availability", "/out_of_scope"]
    assert question.text == "Вы имели в виду: Наличие товара?"
    yes = chat.send(sure("да", "affirm"))
    assert yes.intent == "product_availability" and "utter_product_availability" in yes.actions


def test_no_to_the_question_is_other(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    assert chat.send(sure("нет", "deny")).replies[0].response == "utter_ask_rephrase"


def test_nothing_likely_enough_gets_the_plain_fallback_then_a_person(chat: Chat) -> None:
    vague = unsure("ну вот", "low_confidence", ("contacts", 0.1), ("greet", 0.09))
    first = chat.send(vague)
    assert [r.response for r in first.replies] == ["fallback"] and not first.replies[0].buttons
    second = chat.send(vague)
    assert second.escalation is not None and second.escalation.reason == "two_stage_fallback"


def test_off_topic_gets_the_plain_fallback_unless_an_intent_competes(chat: Chat) -> None:
    weather = unsure("какая погода завтра", "out_of_scope", ("out_of_scope", 0.98), ("delivery_terms", 0.01))
    assert chat.send(weather).replies[0].response == "fallback"
    chat.state.misunderstood_in_a_row = 0
    close = unsure("покеда", "out_of_scope", ("out_of_scope", 0.37), ("goodbye", 0.36), ("affirm", 0.09))
    question = chat.send(close).replies[0]
    assert [b["payload"] for b in question.buttons] == ["/goodbye", "/out_of_scope"]


def test_yes_and_no_are_never_offered(chat: Chat) -> None:
    result = chat.send(unsure("ну все, бывайте", "low_confidence", ("affirm", 0.49), ("goodbye", 0.16)))
    assert [b["payload"] for b in result.replies[0].buttons] == ["/goodbye", "/out_of_scope"]


def test_the_message_entities_travel_with_the_click(chat: Chat) -> None:
    order = Entity("order_number", "1234567", 11, 18, "RegexEntityExtractor")
    message = unsure(
        "что там с 1234567 и отменой",
        "ambiguous",
        ("order_status", 0.44),
        ("order_cancel", 0.4),
        entities=[order],
    )
    buttons = chat.send(message).replies[0].buttons
    assert buttons[0]["payload"] == '/order_status{"order_number":"1234567"}'
    result = chat.send(typed(buttons[0]["payload"]))
    assert result.intent == "order_status"
    assert chat.state.tracker.slots.get("order_number") == "1234567"  # not asked again


def test_the_open_question_survives_a_restart(chat: Chat, project: Project) -> None:
    chat.send(AMBIGUOUS)
    restored = Chat(project.engine(seed=1))
    restored.state = DialogueState.from_dict(chat.state.to_dict())
    assert restored.state.clarify == ["delivery_terms", "payment_methods"]
    assert restored.send(typed("Способы оплаты")).intent == "payment_methods"


def test_a_request_for_a_person_still_wins(chat: Chat) -> None:
    chat.send(AMBIGUOUS)
    result = chat.send(unsure("дайте оператора", "low_confidence", ("contacts", 0.3)))
    assert result.escalation is not None and result.escalation.reason == "human_request"


def _project_with(tmp_path: Path, rule: str) -> Project:
    root = copy_project(REPO, tmp_path / "bot")
    config = (root / "config.yml").read_text(encoding="utf-8")
    start = config.index("    - name: two_stage_fallback")
    end = config.index("    - name: misunderstood")
    (root / "config.yml").write_text(config[:start] + rule + config[end:], encoding="utf-8")
    return Project.open(root)


def test_switched_off_the_bot_says_its_fallback_and_misunderstood_hands_off(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "    - name: two_stage_fallback\n      enabled: false\n")
    chat = Chat(project.engine(seed=1))
    first = chat.send(AMBIGUOUS)
    assert [r.response for r in first.replies] == ["fallback"] and not first.replies[0].buttons
    second = chat.send(AMBIGUOUS)
    assert second.escalation is not None and second.escalation.reason == "misunderstood"


def test_more_misses_allowed_ask_again(tmp_path: Path) -> None:
    rule = "    - name: two_stage_fallback\n      misses: 3\n      candidates: 1\n"
    chat = Chat(_project_with(tmp_path, rule).engine(seed=1))
    assert [b["payload"] for b in chat.send(AMBIGUOUS).replies[0].buttons] == [
        "/delivery_terms",
        "/out_of_scope",
    ]
    chat.send(typed("/out_of_scope"))
    second = chat.send(AMBIGUOUS)
    assert second.escalation is None and second.replies[0].response == "utter_ask_affirmation"
    third = chat.send(AMBIGUOUS)
    assert third.escalation is not None and "3 times" in third.escalation.detail


def test_english_bot_asks_in_english(tmp_path: Path) -> None:
    project = Project.open(copy_project(REPO / "examples" / "en-shop", tmp_path / "en"))
    chat = Chat(project.engine(seed=1))
    message = unsure("shipping or paying", "ambiguous", ("delivery_terms", 0.46), ("payment_methods", 0.41))
    question = chat.send(message).replies[0]
    assert question.text.startswith("Did you mean: ") and " or " in question.text
    assert question.buttons[-1] == {"title": "Something else", "payload": "/out_of_scope"}


def test_rule_alone_counts_misses() -> None:
    escalator = Escalator.from_specs([("two_stage_fallback", {"misses": 2})])
    miss = unsure("ыы", "low_confidence", ("greet", 0.2))
    roles = IntentRoles()
    assert escalator.decide(TurnContext(miss, [], 0, False, roles)) is None
    second = escalator.decide(TurnContext(miss, [Turn(FALLBACK_INTENT, "ыы", False)], 1, False, roles))
    assert second is not None and second.reason == "two_stage_fallback"
    assert escalator.decide(TurnContext(sure("привет", "greet"), [], 5, False, roles)) is None
