"""The REST webhook answered before FastAPI's middleware stack and router: the customers' path, kept short.

Each request through FastAPI walks Starlette's error and exception layers, FastAPI's
telemetry and body-limit wrappers, the router and the dependency solver: together as much
CPU as the NLU. The webhook is the one route that carries every customer message, so
``BotdeskApp`` (the FastAPI app ``create_app`` returns) answers ``POST
/webhooks/rest/webhook`` itself with ``answer_webhook`` (the route's own code: same
checks, statuses and metrics) and passes everything else on. The request counts as in
flight, as any other does, so shutdown still waits for it and refuses new ones.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from bot.server.inflight import InFlight, refuse_shutting_down
from bot.server.routes.rest import WEBHOOK_PATH, answer_webhook


class BotdeskApp(FastAPI):
    """FastAPI, with the REST webhook served in front of it while ``rest_lane`` is on."""

    rest_lane = False  # create_app turns it on with the REST channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.rest_lane
            and scope["type"] == "http"
            and scope["path"] == WEBHOOK_PATH
            and scope["method"] == "POST"
        ):
            await serve_webhook(self, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def serve_webhook(app: FastAPI, scope: Scope, receive: Receive, send: Send) -> None:
    requests: InFlight = app.state.requests
    if requests.closing:
        await refuse_shutting_down(send)
        return
    requests.enter()
    try:
        declared = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), None)
        answer = await answer_webhook(app, receive, declared)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            *((name.encode(), value.encode()) for name, value in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
    finally:
        requests.leave()
