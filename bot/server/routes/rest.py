"""Rasa's REST channel over HTTP: the webhook, and polling for what operators said later.

The payload rules and the answer shape are ``bot.channels.rest``'s; this module reads
the request (never more than the channel allows), times the turn for /metrics, and
turns expected errors into a status with a ``detail`` sentence.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from bot.channels.rest import (
    CHANNEL,
    MAX_BODY_BYTES,
    MAX_SENDER_CHARS,
    RestRequestError,
    messages_after,
    parse_webhook,
    replies_to,
    to_rasa,
)
from bot.errors import BotdeskError
from bot.server.deps import NO_DATABASE, DatabaseDep, MetricsDep, ReadyStateDep, StateDep
from bot.store import MAX_MESSAGE_CHARS, InputRejected, MessageTooLong, StoreError

router = APIRouter(prefix="/webhooks/rest", tags=["rest channel"])
log = logging.getLogger("botdesk.channels.rest")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RestRequestError(413, f"the request body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RestRequestError(413, f"the request body is over {limit} bytes")
    return bytes(body)


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


@router.post(
    "/webhook",
    summary="Send a customer message; the answer is the bot's replies (Rasa REST shape)",
    response_model=None,
    openapi_extra={"requestBody": WEBHOOK_BODY},
)
async def webhook(request: Request, state: ReadyStateDep, metrics: MetricsDep) -> Response:
    started = time.perf_counter()
    try:
        inbound = parse_webhook(await read_body(request, MAX_BODY_BYTES))
        handled = await state.conversations.handle(inbound)
    except RestRequestError as exc:
        metrics.refused(CHANNEL)
        raise HTTPException(exc.status, exc.detail) from None
    except InputRejected as exc:
        metrics.refused(CHANNEL)
        raise HTTPException(413 if isinstance(exc, MessageTooLong) else 422, str(exc)) from None
    except StoreError as exc:
        metrics.refused(CHANNEL, "error")
        log.error("REST message not handled: %s", exc)
        raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"}) from None
    except BotdeskError as exc:  # e.g. the NLU backend is down; the message is stored
        metrics.refused(CHANNEL, "error")
        log.error("REST message not answered: %s", exc)
        raise HTTPException(503, f"the bot cannot answer right now: {exc}") from None
    except Exception:
        metrics.refused(CHANNEL, "error")
        raise
    metrics.observe(CHANNEL, handled, time.perf_counter() - started)
    if handled.lead_id is not None:
        state.outbox.wake()  # deliver the new lead card now, not at the next poll
    if handled.duplicate and inbound.message_id is not None:
        async with state.db.reader() as session:  # sent again: the same answer, answered once
            items = await replies_to(
                session, handled.conversation_id, inbound.message_id, state.config.bot.label
            )
    else:
        items = [to_rasa(reply) for reply in handled.replies]
    return json_response(items)


def json_response(items: list[dict[str, Any]]) -> Response:
    """The items as JSON, serialised once: the answer items are plain JSON values already."""
    body = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), media_type="application/json")


@router.get(
    "/messages",
    summary="What the bot, operators and the system said to a sender after a message id",
)
async def messages(
    state: StateDep,
    db: DatabaseDep,
    sender: Annotated[str, Query(min_length=1, max_length=255, description="The webhook's sender")],
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="The last message_id the client has")] = 0,
) -> list[dict[str, Any]]:
    async with db.reader() as session:
        return await messages_after(session, sender, after, state.config.bot.label)
