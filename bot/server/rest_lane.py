"""The REST webhook served in front of FastAPI's routing: the customers' path, kept short.

Each request through FastAPI walks the router, its exception and exit-stack layers and
the dependency solver: about a third of a millisecond, as much as the NLU. The webhook
is the one route that carries every customer message, so this ASGI middleware answers
``POST /webhooks/rest/webhook`` itself with ``answer_webhook`` (the route's own code:
same checks, statuses and metrics) and passes everything else on. It sits inside
``InFlightMiddleware``, so shutdown still waits for the requests it serves.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.server.routes.rest import WEBHOOK_PATH, answer_webhook


class RestLane:
    """Pure ASGI middleware: the REST webhook answered directly, every other request passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), None)
        answer = await answer_webhook(scope["app"], receive, declared)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            *((name.encode(), value.encode()) for name, value in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
