"""The REST channel, compatible with Rasa's ``rest`` and ``callback`` channels.

A client POSTs ``{"sender": "...", "message": "..."}`` and gets the bot's replies as a
JSON list of ``{"recipient_id", "text"}`` items (plus ``buttons`` and ``image`` when the
response has them), exactly as from Rasa. botdesk adds ``sender`` ("bot", "operator",
"system"), ``sender_name`` (the bot's label or the operator's name) and ``message_id`` to
each item, so a client can mark bot messages; the text itself stays unprefixed.

Operators answer later, so their messages come another way: clients poll
(``messages_after``), or, with ``channels.rest.callback_url``, ``RestCallback`` POSTs each
one there in the same item shape. HTTP routes live in ``bot.server.routes.rest``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import BotdeskError
from bot.json_input import JsonInputError, parse_json_input
from bot.messages import InboundMessage, OutboundMessage
from bot.store import (
    MAX_MESSAGE_CHARS,
    ChannelIdentity,
    Conversation,
    Direction,
    Message,
    Operator,
    Sender,
    check_text,
)

CHANNEL = "rest"
MAX_BODY_BYTES = 64 * 1024  # a 4096-character message with every character escaped fits
MAX_METADATA_BYTES = 4096
MAX_SENDER_CHARS = 255
POLL_LIMIT = 100
log = logging.getLogger("botdesk.channels.rest")


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


def to_rasa(message: OutboundMessage) -> dict[str, Any]:
    """One answer item: Rasa's fields, then botdesk's (``sender``, ``sender_name``, ``message_id``)."""
    item: dict[str, Any] = {"recipient_id": message.recipient_id, "text": message.text}
    if message.buttons:
        item["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in message.buttons
        ]
    if message.image:
        item["image"] = message.image
    if message.custom:
        item["custom"] = message.custom
    if message.attachment:
        item["attachment"] = message.attachment
    item.update(sender=message.sender, sender_name=message.sender_name, message_id=message.message_id)
    return item


async def messages_after(
    session: AsyncSession, sender: str, after: int, bot_label: str, limit: int = POLL_LIMIT
) -> list[dict[str, Any]]:
    """What botdesk said to this REST sender after message ``after``, oldest first.

    Bot, operator and system messages alike, in the webhook's item shape with a
    ``timestamp``; an unknown sender has none. Buttons are not kept in the store, so
    polled items carry text only.
    """
    rows = await session.execute(
        select(Message, Operator.display_name)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
        .outerjoin(Operator, Operator.id == Message.operator_id)
        .where(
            ChannelIdentity.channel == CHANNEL,
            ChannelIdentity.external_id == sender,
            Conversation.channel == CHANNEL,
            Message.direction == Direction.OUT,
            Message.id > after,
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [
        {
            "recipient_id": sender,
            "text": message.text,
            "sender": str(message.sender),
            "sender_name": (operator_name or "operator") if message.sender == Sender.OPERATOR else bot_label,
            "message_id": message.id,
            "timestamp": message.created_at.isoformat(),
        }
        for message, operator_name in rows.all()
    ]


async def replies_to(
    session: AsyncSession, conversation_id: int, channel_message_id: str, bot_label: str
) -> list[dict[str, Any]]:
    """The bot's stored answer to an inbound message, for a client that sends it again."""
    original = await session.scalar(
        select(Message.id).where(
            Message.conversation_id == conversation_id, Message.channel_message_id == channel_message_id
        )
    )
    if original is None:
        return []
    recipient = await session.scalar(
        select(ChannelIdentity.external_id)
        .join(Conversation, Conversation.customer_id == ChannelIdentity.customer_id)
        .where(Conversation.id == conversation_id, ChannelIdentity.channel == CHANNEL)
    )
    following = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > original)
        .order_by(Message.id)
        .limit(POLL_LIMIT)
    )
    items = []
    for message in following.scalars():
        if message.direction == Direction.IN:
            break  # the next customer message: what follows answers that one
        if message.sender == Sender.BOT:
            items.append(
                {
                    "recipient_id": recipient or "",
                    "text": message.text,
                    "sender": "bot",
                    "sender_name": bot_label,
                    "message_id": message.id,
                }
            )
    return items


class RestCallbackError(BotdeskError):
    """The callback URL did not take a message (the operator service retries it)."""


class RestCallback:
    """Pushes operator and system messages to ``channels.rest.callback_url`` (Rasa's callback channel)."""

    name = CHANNEL

    def __init__(
        self, url: str, *, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def send(self, message: OutboundMessage) -> None:
        try:
            response = await self._client.post(self.url, json=to_rasa(message))
        except httpx.HTTPError as exc:
            raise RestCallbackError(f"REST callback {self.url} unreachable: {exc!r}") from exc
        if response.status_code >= 300:
            raise RestCallbackError(f"REST callback {self.url} answered HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
