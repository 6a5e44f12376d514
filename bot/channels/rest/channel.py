"""Rasa's REST channel as a botdesk channel: the webhook, its stream, polling and the callback.

- ``POST /webhooks/rest/webhook``: one customer message in, the bot's replies out (Rasa's
  item list); ``?stream=true`` streams the items as lines of JSON while they are made, as
  Rasa's REST channel does (what ``rasa shell`` asks for). The webhook carries every
  customer message, so it is also a lane: answered in front of FastAPI's middleware and
  router (``ChannelHttp.lanes``), with the route's own code.
- ``GET /webhooks/rest/``: ``{"status": "ok"}``, as Rasa.
- ``GET /webhooks/rest/messages?sender=..&after=..``: what operators (and the bot) said
  later; or, with ``channels.rest.callback_url``, each such message is POSTed there in the
  same item shape (Rasa's ``callback`` channel).

Every expected failure is a status with a ``detail`` sentence; a message is stored before
a 200 is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field, field_validator
from starlette.types import Receive, Scope, Send

from bot.channels.base import (
    BodyReader,
    BodyRejected,
    Capabilities,
    Channel,
    ChannelHttp,
    ChannelOptions,
    ChannelUnavailable,
)
from bot.channels.registry import register_channel
from bot.channels.rest.payload import (
    CHANNEL,
    MAX_BODY_BYTES,
    MAX_SENDER_CHARS,
    POLL_LIMIT,
    RestRequestError,
    parse_webhook,
    stored_item,
    to_rasa,
)
from bot.conversation.accounting import TurnRefused
from bot.settings import BotdeskConfig
from bot.store import MAX_MESSAGE_CHARS, Sender
from bot.store.channel_history import Said, answered_with, external_id_of, said_to
from bot.store.errors import NO_DATABASE
from bot.store.json_codec import dump_bytes

log = logging.getLogger("botdesk.channels.rest")
PREFIX = "/webhooks/rest"
WEBHOOK_PATH = f"{PREFIX}/webhook"
STARTING = "the server is starting; try again in a moment"
RETRY_AFTER = ("retry-after", "5")
STREAM = re.compile(rb"(?:^|&)stream=(?:true|1|yes)(?:&|$)", re.IGNORECASE)


class RestOptions(ChannelOptions):
    """``channels.rest`` in config.yml."""

    callback_url: str | None = Field(
        default=None,
        description="Operator and system messages are also POSTed here (Rasa callback shape)",
    )

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to the webhook: status, JSON body, extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _refusal(status: int, detail: str, *headers: tuple[str, str]) -> Answer:
    return Answer(status, json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8"), headers)


class RestCallbackError(ChannelUnavailable):
    """The callback URL did not take a message (the operator service retries it)."""


@register_channel
class RestChannel(Channel):
    """The Rasa-compatible REST channel (see the module docstring)."""

    name = CHANNEL
    Options = RestOptions
    capabilities: ClassVar[Capabilities] = Capabilities(push=False, buttons=True)

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        super().__init__(options, config)
        assert isinstance(options, RestOptions)
        self.callback_url = options.callback_url
        self._client: httpx.AsyncClient | None = None

    # ---- lifecycle and delivery ------------------------------------------------------
    async def start(self, context: Any) -> bool:
        await super().start(context)
        if self.callback_url:
            self._client = httpx.AsyncClient(transport=context.transport, timeout=10.0)
        return True

    @property
    def pushes(self) -> bool:
        """With a callback URL, later messages are pushed; without, clients poll for them."""
        return self.running and self._client is not None

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await super().stop()

    async def send(self, message: Any) -> None:
        """POST the message's items to the callback URL, one request each (Rasa's callback)."""
        if self._client is None or self.callback_url is None:
            raise ChannelUnavailable("the REST channel has no callback_url: clients poll for messages")
        for item in to_rasa(message):
            try:
                response = await self._client.post(self.callback_url, json=item)
            except httpx.HTTPError as exc:
                raise RestCallbackError(f"REST callback {self.callback_url} unreachable: {exc!r}") from exc
            if response.status_code >= 300:
                raise RestCallbackError(
                    f"REST callback {self.callback_url} answered HTTP {response.status_code}"
                )

    # ---- HTTP ------------------------------------------------------------------------
    def http(self) -> ChannelHttp:
        router = APIRouter(prefix=PREFIX, tags=["rest channel"])
        router.add_api_route(
            "/",
            self.health,
            methods=["GET"],
            summary='Rasa\'s REST channel check: {"status": "ok"}',
        )
        router.add_api_route(
            "/webhook",
            self.webhook,
            methods=["POST"],
            summary="Send a customer message; the answer is the bot's replies (Rasa REST shape)",
            response_model=None,
            openapi_extra={"requestBody": WEBHOOK_BODY},
        )
        router.add_api_route(
            "/messages",
            self.messages,
            methods=["GET"],
            summary="What the bot, operators and the system said to a sender after a message id",
        )
        return ChannelHttp(
            router,
            lanes={("POST", WEBHOOK_PATH): self.lane},
            body_limits={WEBHOOK_PATH: MAX_BODY_BYTES},
            own_json=frozenset({WEBHOOK_PATH}),
        )

    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    async def webhook(self, request: Request) -> Response:
        """The route: what the lane answers, for an app served without the lane (and for OpenAPI)."""

        async def read_body(receive: Receive) -> bytes:
            return await request.body()

        if STREAM.search(request.url.query.encode()):
            return await self._stream(request.receive, read_body)
        answer = await self.answer(request.receive, read_body)
        return Response(answer.body, answer.status, dict(answer.headers), media_type="application/json")

    async def lane(self, scope: Scope, receive: Receive, send: Send, read_body: BodyReader) -> None:
        """The webhook in front of FastAPI: read (within its limit), handle, answer."""
        if STREAM.search(scope.get("query_string", b"")):
            response = await self._stream(receive, read_body)
            await response(scope, receive, send)
            return
        answer = await self.answer(receive, read_body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            *((name.encode(), value.encode()) for name, value in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def answer(self, receive: Receive, read_body: BodyReader) -> Answer:
        """One webhook request, start to finish; every expected failure is a status with a ``detail``."""
        context = self.context
        if context is None:
            return _refusal(503, STARTING)
        if not context.ready():
            return _refusal(503, NO_DATABASE, RETRY_AFTER)
        conversations = context.conversations
        try:
            inbound = parse_webhook(await read_body(receive))
            handled = await conversations.handle_and_account(inbound)
        except RestRequestError as exc:
            conversations.refused(CHANNEL)
            return _refusal(exc.status, exc.detail)
        except TurnRefused as refused:
            headers = (RETRY_AFTER,) if refused.retry else ()
            return _refusal(refused.http_status, refused.detail, *headers)
        except BodyRejected as exc:  # refused while reading: too large, too slow, cut off
            conversations.refused(CHANNEL)
            return _refusal(exc.status, exc.detail)
        if handled.duplicate and inbound.message_id is not None:
            items = await self._answered_before(handled.conversation_id, inbound.message_id)
        else:
            items = [item for reply in handled.replies for item in to_rasa(reply)]
        return Answer(200, dump_bytes(items))  # serialised once: the items are plain JSON values

    async def _stream(self, receive: Receive, read_body: BodyReader) -> Response:
        """``?stream=true``: the items as lines of JSON (``text/event-stream``), as Rasa streams them."""
        answer = await self.answer(receive, read_body)
        if answer.status != 200:
            return Response(answer.body, answer.status, dict(answer.headers), media_type="application/json")
        items: list[dict[str, Any]] = json.loads(answer.body)

        async def lines() -> AsyncIterator[bytes]:
            for item in items:
                yield json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"
                await asyncio.sleep(0)

        return StreamingResponse(lines(), media_type="text/event-stream")

    async def _answered_before(self, conversation_id: int, message_id: str) -> list[dict[str, Any]]:
        """A message sent again: the bot's answer to it the first time, answered once."""
        context = self.require_context()
        label = context.config.bot.label
        async with context.database.reader() as session:
            recipient = await external_id_of(session, conversation_id, CHANNEL) or ""
            answer = await answered_with(session, conversation_id, message_id)
        items = [stored_item(Said(m), recipient, label) for m in answer if m.sender == Sender.BOT]
        for item in items:
            item.pop("timestamp")
        return items

    async def messages(
        self,
        sender: Annotated[str, Query(min_length=1, max_length=255, description="The webhook's sender")],
        after: Annotated[
            int, Query(ge=0, le=2**63 - 1, description="The last message_id the client has")
        ] = 0,
    ) -> list[dict[str, Any]]:
        context = self.require_context()
        async with context.database.reader() as session:
            said = await said_to(session, CHANNEL, sender, after=after, limit=POLL_LIMIT)
        return [stored_item(s, sender, context.config.bot.label) for s in said]


# The body is read by hand (size-capped before parsing); this documents it for OpenAPI clients.
WEBHOOK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["sender", "message"],
                "properties": {
                    "sender": {"type": "string", "minLength": 1, "maxLength": MAX_SENDER_CHARS},
                    "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS},
                    "message_id": {"type": "string", "minLength": 1, "maxLength": MAX_SENDER_CHARS},
                    "metadata": {"type": "object", "description": '{"name": "Анна"} names the customer'},
                },
            },
            "example": {"sender": "user-1", "message": "сколько стоит доставка?"},
        }
    },
}
