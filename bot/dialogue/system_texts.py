"""Texts the engine says about presence and the queue, for a project whose responses lack them.

A project's own ``responses`` (``intents/dialogue.yml``) always win; these keep a project
written before these responses existed (or imported from Rasa) from answering a handoff with
its fallback sentence. Placeholders as in the responses: ``{position}``, ``{minutes}``.
"""

from __future__ import annotations

from typing import Any

CALLBACK_BUTTONS = {
    "ru": [
        {"title": "Оставить контакт", "payload": "/affirm"},
        {"title": "Подожду в чате", "payload": "/deny"},
    ],
    "en": [
        {"title": "Leave a contact", "payload": "/affirm"},
        {"title": "I'll wait here", "payload": "/deny"},
    ],
}

BUILTIN: dict[str, dict[str, dict[str, Any]]] = {
    "ru": {
        "utter_nobody_online": {
            "text": "Сейчас никого из операторов нет на связи. Ваш вопрос в очереди — ответим, как "
            "только оператор подключится. Хотите, оставьте контакт, и мы перезвоним.",
            "buttons": CALLBACK_BUTTONS["ru"],
        },
        "utter_queued_ack": {
            "text": "Ваше сообщение передано оператору, вы {position}-й в очереди, "
            "примерное ожидание — {minutes} мин."
        },
        "utter_queued_nobody_online": {
            "text": "Ваше сообщение сохранено для операторов. Сейчас никого нет на связи — ответим, "
            "как только кто-то подключится."
        },
        "utter_queue_update": {
            "text": "Очередь движется: вы {position}-й, примерное ожидание — {minutes} мин."
        },
    },
    "en": {
        "utter_nobody_online": {
            "text": "No operator is online right now. Your question is in the queue: a person answers "
            "as soon as one connects. Would you like to leave a contact so that we call you back?",
            "buttons": CALLBACK_BUTTONS["en"],
        },
        "utter_queued_ack": {
            "text": "Your message has been passed to the operator; you are number {position} in the "
            "queue, about {minutes} min to wait."
        },
        "utter_queued_nobody_online": {
            "text": "Your message is kept for the operators. Nobody is online right now: a person "
            "answers as soon as one connects."
        },
        "utter_queue_update": {
            "text": "The queue is moving: you are number {position}, about {minutes} min to wait."
        },
    },
}


def builtin_variant(response: str, language: str) -> dict[str, Any] | None:
    """The built-in variant of ``response`` in the bot's language (English for another), if any."""
    texts = BUILTIN.get(language, BUILTIN["en"])
    return texts.get(response)
