"""Rasa's REST channel over HTTP: the webhook, and polling for what operators said later.

The payload rules and the answer shape are ``bot.channels.rest``'s; ``answer_webhook``
reads the request (never more than the channel allows), times the turn for /metrics,
and turns expected errors into a status with a ``detail`` sentence. The webhook carries
the customers' traffic, so ``bot.server.rest_lane`` serves it in front of FastAPI's
routing and dependency injection; the route here documents it in the OpenAPI schema.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import Receive

from bot.channels.rest import (
    CHANNEL,
    MAX_SENDER_CHARS,
    RestRequestError,
    messages_after,
    parse_webhook,
    replies_to,
    to_rasa,
)
from bot.errors import BotdeskError
from bot.server.deps import NO_DATABASE, STARTING, DatabaseDep, StateDep
from bot.server.lifespan import ServerState
from bot.server.metrics import Metrics
from bot.server.request_guard import BodyRefused, RequestGuard, RequestRefused
from bot.server.unavailable import log_outage
from bot.store import MAX_MESSAGE_CHARS, InputRejected, MessageTooLong, StoreError
from bot.store.json_codec import dump_bytes

router = APIRouter(prefix="/webhooks/rest", tags=["rest channel"])
log = logging.getLogger("botdesk.channels.rest")
RETRY_AFTER = ("retry-after", "5")
WEBHOOK_PATH = "/webhooks/rest/webhook"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to the webhook: status, JSON body, extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _refusal(status: int, detail: str, *headers: tuple[str, str]) -> Answer:
    return Answer(status, json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8"), headers)


async def answer_webhook(app: Any, receive: Receive) -> Answer:
    """One webhook request, start to finish: read, handle, answer (``RestLane`` and the route share it).

    The body is read through the app's ``RequestGuard`` (its limit for this path; a
    declared Content-Length was checked before). Every expected failure is a
    status with a ``detail`` sentence; the message is stored before a 200 is sent.
    Anything else raises (a 500 from the server).
    """
    state: ServerState | None = getattr(app.state, "botdesk", None)
    if state is None:  # the lifespan has not run (yet)
        return _refusal(503, STARTING)
    if not state.ready:
        return _refusal(503, NO_DATABASE, RETRY_AFTER)
    metrics: Metrics = app.state.metrics
    started = time.perf_counter()
    try:
        guard: RequestGuard = app.guard
        inbound = parse_webhook(await guard.read_body(receive, guard.limit_for(WEBHOOK_PATH)))
        handled = await state.conversations.handle(inbound)
    except (RestRequestError, RequestRefused, BodyRefused) as exc:
        metrics.refused(CHANNEL)
        return _refusal(exc.status_code if isinstance(exc, BodyRefused) else exc.status, exc.detail)
    except InputRejected as exc:
        metrics.refused(CHANNEL)
        return _refusal(413 if isinstance(exc, MessageTooLong) else 422, str(exc))
    except (StoreError, OperationalError, InterfaceError, PoolTimeout) as exc:
        metrics.refused(CHANNEL, "error")
        log_outage("POST", WEBHOOK_PATH, exc)
        return _refusal(503, NO_DATABASE, RETRY_AFTER)
    except BotdeskError as exc:  # e.g. the NLU backend is down; the message is stored
        metrics.refused(CHANNEL, "error")
        log.error("REST message not answered: %s", exc)
        return _refusal(503, f"the bot cannot answer right now: {exc}")
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
    # Serialised once: the answer items are plain JSON values already.
    return Answer(200, dump_bytes(items))


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
async def webhook(request: Request) -> Response:
    """Served by ``RestLane`` in front of the app; the route documents it (and serves it without one)."""
    answer = await answer_webhook(request.app, request.receive)
    return Response(answer.body, answer.status, dict(answer.headers), media_type="application/json")


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
