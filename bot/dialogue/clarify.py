"""The first stage of the two-stage fallback: "Вы имели в виду: …?" and reading the answer.

Rasa's ``action_two_stage_fallback`` asks the customer to affirm the intent it guessed
(``action_default_ask_affirmation``: "Did you mean 'X'?" with "Yes" = ``/X`` and "No" =
``/out_of_scope``), asks to rephrase after a "No" (``utter_ask_rephrase``) and gives up at the
second miss. botdesk offers every intent that really competes (up to three, by their human
titles) in one question, plus "Другое" (``/out_of_scope``, Rasa's "No"); the second stage,
handing off, is the escalation rule :mod:`bot.dialogue.escalation.two_stage_fallback`.

The answer is read before anything else of the turn:

- a button's payload ``/intent`` (with the original message's entities, as Rasa keeps them:
  ``/order_status{"order_number": "1234567"}``) is that intent, for sure;
- a candidate's title typed or sent by a reply keyboard ("Доставка") is that intent;
- "Да" when one intent was offered is that intent;
- "Другое" (``/out_of_scope``, its title typed, or a "Нет") asks to rephrase;
- anything else is a new message, read as any other.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.dialogue.escalation.two_stage_fallback import OUT_OF_SCOPE, TwoStageFallback
from bot.nlu.base import IntentScore, Message

OTHER_PAYLOAD = f"/{OUT_OF_SCOPE}"
ASK_AFFIRMATION = "utter_ask_affirmation"  # botdesk's response for the question ({intents}: the titles)
ASK_REPHRASE = "utter_ask_rephrase"  # Rasa's response after "No"
MAX_PAYLOAD_CHARS = 256  # a payload with entities longer than this goes without them
# What the bot says when the project has no response of its own (customer-facing, the bot's language).
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        ASK_AFFIRMATION: "Вы имели в виду: {intents}?",
        ASK_REPHRASE: "Понял, это что-то другое. Сформулируйте, пожалуйста, вопрос иначе — другими словами.",
        "other": "Другое",
        "or": "или",
    },
    "en": {
        ASK_AFFIRMATION: "Did you mean: {intents}?",
        ASK_REPHRASE: "I see, it's something else. Could you put your question in other words?",
        "other": "Something else",
        "or": "or",
    },
}
AFFIRM, DENY = "affirm", "deny"


@dataclass(frozen=True, slots=True)
class Answer:
    """The customer's message read as an answer to the question (or left as it was)."""

    message: Message
    other: bool = False  # "Другое": the bot asks to rephrase


class Clarifier:
    """Builds the question from the NLU's ranking and reads the customer's answer to it.

    Args:
        rule: the configured ``two_stage_fallback`` escalation rule (its options).
        language: the bot's language (the default texts and the "Другое" title).
        titles: each intent's human title (``title:`` in the intent files).
        known: the intents the dialogue can act on.
    """

    def __init__(
        self, rule: TwoStageFallback, language: str, titles: Mapping[str, str], known: Collection[str]
    ) -> None:
        self.rule = rule
        self.texts = DEFAULT_TEXTS.get(language, DEFAULT_TEXTS["en"])
        self.titles = dict(titles)
        self.known = known
        self.other_title = rule.options.other_title or self.texts["other"]

    def title(self, intent: str) -> str:
        return self.titles.get(intent) or intent.replace("_", " ")

    def candidates(self, message: Message) -> list[IntentScore]:
        return self.rule.candidates(message, self.known)

    def joined(self, intents: Sequence[str]) -> str:
        """'Доставка', 'Доставка или Оплата', 'Доставка, Оплата или Скидки'."""
        titles = [self.title(i) for i in intents]
        if len(titles) < 2:
            return "".join(titles)
        return f"{', '.join(titles[:-1])} {self.texts['or']} {titles[-1]}"

    def buttons(self, intents: Sequence[str], message: Message) -> list[dict[str, Any]]:
        """A button per intent (payload ``/intent``, with the message's entities) and "Другое"."""
        suffix = _entities_json(message)
        buttons = []
        for intent in intents:
            payload = f"/{intent}{suffix}"
            if len(payload) > MAX_PAYLOAD_CHARS:
                payload = f"/{intent}"
            buttons.append({"title": self.title(intent), "payload": payload})
        buttons.append({"title": self.other_title, "payload": OTHER_PAYLOAD})
        return buttons

    def default_text(self, response: str) -> str:
        return self.texts[response]

    def read(self, offered: Sequence[str], message: Message) -> Answer:
        """The message as an answer to "did you mean" (``offered``: the intents the question listed)."""
        text = message.text.strip()
        if text == OTHER_PAYLOAD or text.startswith(OTHER_PAYLOAD + "{"):
            return Answer(message, other=True)
        typed = _plain(text)
        if typed == _plain(self.other_title):
            return Answer(message, other=True)
        for intent in offered:
            if typed == _plain(self.title(intent)):
                return Answer(_sure(message, intent))
        top = message.intent.name if message.intent else None
        if top == DENY:
            return Answer(message, other=True)
        if top == AFFIRM and len(offered) == 1:
            return Answer(_sure(message, offered[0]))
        return Answer(message)


def _plain(text: str) -> str:
    return " ".join(text.strip(" .!?»«\"'").casefold().replace("ё", "е").split())


def _sure(message: Message, intent: str) -> Message:
    score = IntentScore(intent, 1.0)
    return replace(message, intent=score, ranking=[score], fallback_reason=None)


def _entities_json(message: Message) -> str:
    """``{"city": "Казань"}`` of the message's entities (Rasa's payload syntax), or ""."""
    values: dict[str, list[str]] = {}
    for entity in message.entities:
        values.setdefault(entity.entity, [])
        if entity.value not in values[entity.entity]:
            values[entity.entity].append(entity.value)
    if not values:
        return ""
    data = {name: found[0] if len(found) == 1 else found for name, found in values.items()}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
