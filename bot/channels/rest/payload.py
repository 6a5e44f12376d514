"""The REST channel's payloads: the webhook's body in, Rasa's answer items out.

A client POSTs ``{"sender": "...", "message": "..."}`` and gets the bot's replies as a
JSON list of ``{"recipient_id", "text"}`` items (``buttons``, ``image``, ``custom``,
``attachment`` as Rasa's ``CollectingOutputChannel`` makes them), exactly as from Rasa.
botdesk adds ``sender`` ("bot", "operator", "system"), ``sender_name`` (the bot's label or
the operator's name) and ``message_id`` to each item, so a client can mark bot messages;
the text itself stays unprefixed.
"""

from __future__ import annotations

import json
from typing import Any

from bot.errors import BotdeskError
from bot.json_input import JsonInputError, parse_json_input
from bot.messages import InboundMessage, OutboundMessage
from bot.store import MAX_MESSAGE_CHARS, Sender, check_text
from bot.store.buttons import buttons_of
from bot.store.channel_history import Said

CHANNEL = "rest"
MAX_BODY_BYTES = 64 * 1024  # a 4096-character message with every character escaped fits
MAX_METADATA_BYTES = 4096
MAX_SENDER_CHARS = 255
POLL_LIMIT = 100


class RestRequestError(BotdeskError):
    """A request the REST channel refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_webhook(body: bytes) -> InboundMessage:
    """A Rasa REST webhook body as an ``InboundMessage``; anything else is a RestRequestError.

    ``message_id`` (optional) is the client's id for the message: sent again, it is
    answered once. ``metadata`` (optional, an object) is kept as the sender's profile
    (``{"name": "Анна"}`` shows operators a name).
    """
    if len(body) > MAX_BODY_BYTES:
        raise RestRequestError(413, f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        payload = parse_json_input(body)  # nesting bounded first; no lone surrogate, no NaN
    except JsonInputError as exc:
        if not exc.syntax:
            raise RestRequestError(422, exc.detail) from None
        raise RestRequestError(
            400, 'the body must be JSON text (UTF-8), e.g. {"sender": "user-1", "message": "привет"}'
        ) from None
    if not isinstance(payload, dict):
        raise RestRequestError(400, 'the body must be a JSON object with "sender" and "message"')
    sender = _sender(payload.get("sender"))
    text = payload.get("message")
    if not isinstance(text, str):
        shown = "missing" if text is None else f"a {type(text).__name__}"
        raise RestRequestError(422, f'"message" must be a string (the text), got {shown}')
    if len(text) > MAX_MESSAGE_CHARS:
        raise RestRequestError(
            413, f"the message is {len(text)} characters long; the limit is {MAX_MESSAGE_CHARS}"
        )
    try:
        check_text(text)
    except BotdeskError as exc:
        raise RestRequestError(422, str(exc)) from None
    if not text.strip():
        raise RestRequestError(422, '"message" is empty')
    return InboundMessage(
        channel=CHANNEL,
        sender_id=sender,
        text=text,
        message_id=_message_id(payload.get("message_id")),
        profile=_metadata(payload.get("metadata")),
    )


def _sender(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise RestRequestError(422, '"sender" is required: a non-empty string that identifies the customer')
    if len(value) > MAX_SENDER_CHARS or "\x00" in value:
        raise RestRequestError(422, f'"sender" must be at most {MAX_SENDER_CHARS} characters of text')
    return value


def _message_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_SENDER_CHARS and "\x00" not in value:
        return value
    raise RestRequestError(422, f'"message_id" must be a string of 1 to {MAX_SENDER_CHARS} characters')


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RestRequestError(422, '"metadata" must be a JSON object')
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_METADATA_BYTES:
        raise RestRequestError(413, f'"metadata" is over {MAX_METADATA_BYTES} bytes')
    return value or None


def to_rasa(message: OutboundMessage) -> list[dict[str, Any]]:
    """One reply as the items of Rasa's REST answer (``CollectingOutputChannel``), then botdesk's fields.

    As Rasa does: the text is split into one item per paragraph (a blank line between
    them) unless it has buttons, which stay with the whole text; a custom payload, an image
    and an attachment are items of their own, in that order. Every item carries
    ``recipient_id`` and botdesk's ``sender``, ``sender_name`` and ``message_id`` (the
    stored message's id: the items of one reply share it).
    """
    recipient = message.recipient_id
    items: list[dict[str, Any]] = []
    if message.buttons:
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in message.buttons
        ]
        items.append({"recipient_id": recipient, "text": message.text, "buttons": buttons})
    elif message.text:
        items.extend({"recipient_id": recipient, "text": part} for part in message.text.strip().split("\n\n"))
    if message.custom:
        items.append({"recipient_id": recipient, "custom": message.custom})
    if message.image:
        items.append({"recipient_id": recipient, "image": message.image})
    if message.attachment:
        items.append({"recipient_id": recipient, "attachment": message.attachment})
    for item in items:
        item.update(sender=message.sender, sender_name=message.sender_name, message_id=message.message_id)
    return items


def stored_item(said: Said, recipient_id: str, bot_label: str) -> dict[str, Any]:
    """A stored message as a polled item, with its time, and its buttons when they were kept
    (a survey question or a call-back offer sent after the turn: ``bot.store.buttons``)."""
    message = said.message
    operator = message.sender == Sender.OPERATOR
    item: dict[str, Any] = {
        "recipient_id": recipient_id,
        "text": message.text,
        "sender": str(message.sender),
        "sender_name": (said.operator_name or "operator") if operator else bot_label,
        "message_id": message.id,
        "timestamp": message.created_at.isoformat(),
    }
    if message.sender != Sender.CUSTOMER:
        buttons = buttons_of(message.attachments)
        if buttons:
            item["buttons"] = buttons
    return item
