"""Validation errors answered and logged without the values that failed.

FastAPI's own handler answers a refused request with every failed value (``"input"``) and
renders it with ``ensure_ascii=False``: a lone surrogate in a field, or a too-long password
with one, made the answer itself fail, and the 500 that followed logged the request's
values, password included. These handlers answer the same shapes without inputs, in
ASCII-safe JSON, and log only locations, messages and types:

- a request that does not fit a route's parameters or body: 422, ``detail`` a list of
  ``{"type", "loc", "msg"}`` (FastAPI's shape less ``input``, ``ctx`` and ``url``);
- the same over a WebSocket: closed with 1008 and a short reason;
- an answer that does not fit its own response model, or a pydantic error from a route's
  code: a bug, so 500 with a sentence, logged without the data it was about.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import (
    RequestValidationError,
    ResponseValidationError,
    WebSocketRequestValidationError,
)
from pydantic import ValidationError
from starlette.responses import Response

from bot.log_redaction import summary

log = logging.getLogger("botdesk.server")
INTERNAL = "the server could not answer this request; it was logged for the administrator"
POLICY_VIOLATION = 1008
MAX_CLOSE_REASON = 120  # a WebSocket close reason is at most 123 bytes


def without_inputs(errors: Any) -> list[dict[str, Any]]:
    """Each error's type, location and message: what the client needs to fix the request."""
    return [
        {
            "type": str(error.get("type", "")),
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
        }
        for error in errors
        if isinstance(error, dict)
    ]


def json_answer(status: int, content: Any) -> Response:
    """JSON in ASCII: whatever a location holds (a lone surrogate in a key), the answer can be sent."""
    return Response(json.dumps(content, ensure_ascii=True), status, media_type="application/json")


async def request_refused(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return json_answer(422, {"detail": without_inputs(errors)})


async def websocket_refused(websocket: WebSocket, exc: Exception) -> None:
    errors = without_inputs(exc.errors() if isinstance(exc, WebSocketRequestValidationError) else [])
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    reason = f"{'.'.join(map(str, first['loc']))}: {first['msg']}".encode("ascii", "replace")
    await websocket.close(POLICY_VIOLATION, reason[:MAX_CLOSE_REASON].decode("ascii"))


async def model_broken(request: Request, exc: Exception) -> Response:
    what = "answer" if isinstance(exc, ResponseValidationError) else "code"
    log.error(
        "%s %s: the route's %s failed validation: %s",
        request.method,
        request.url.path,
        what,
        summary(exc),
    )
    return json_answer(500, {"detail": INTERNAL})


def install(app: FastAPI) -> None:
    """The handlers above, in place of FastAPI's."""
    app.add_exception_handler(RequestValidationError, request_refused)
    app.add_exception_handler(WebSocketRequestValidationError, websocket_refused)  # type: ignore[arg-type]
    app.add_exception_handler(ResponseValidationError, model_broken)
    app.add_exception_handler(ValidationError, model_broken)
