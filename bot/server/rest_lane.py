"""The REST webhook answered before FastAPI's middleware stack and router: the customers' path, kept short.

Each request through FastAPI walks Starlette's error and exception layers, FastAPI's
telemetry and body-limit wrappers, the router and the dependency solver: together as much
CPU as the NLU. The webhook is the one route that carries every customer message, so
``BotdeskApp`` (the FastAPI app ``create_app`` returns) answers ``POST
/webhooks/rest/webhook`` itself with ``answer_webhook`` (the route's own code: same
checks, statuses and metrics) and passes everything else on. The request counts as in
flight, as any other does, so shutdown still waits for it and refuses new ones.

Every HTTP request, the webhook's included, first passes the app's ``RequestGuard``
(``bot.server.request_guard``): its body limit by path, its JSON checks.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from bot.server.inflight import InFlight, refuse_shutting_down
from bot.server.request_guard import RequestGuard, RequestRefused
from bot.server.routes.rest import WEBHOOK_PATH, answer_webhook
from bot.settings import ServerSettings


class BotdeskApp(FastAPI):
    """FastAPI behind a ``RequestGuard``, the REST webhook served in front of it while ``rest_lane`` is on."""

    rest_lane = False  # create_app turns it on with the REST channel
    server_settings = ServerSettings()  # create_app sets config.yml's server section
    guard = RequestGuard(server_settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        lane = self.rest_lane and scope["path"] == WEBHOOK_PATH and scope["method"] == "POST"
        try:
            length, limit = self.guard.check_head(scope)
            if not lane:
                receive = await self.guard.admit(scope, length, limit, receive)
        except RequestRefused as refused:
            await refused.answer(send)
            return
        if lane:
            await serve_webhook(self, receive, send)  # its body is read through the guard too
        else:
            await super().__call__(scope, receive, send)


async def serve_webhook(app: FastAPI, receive: Receive, send: Send) -> None:
    requests: InFlight = app.state.requests
    if requests.closing:
        await refuse_shutting_down(send)
        return
    requests.enter()
    try:
        answer = await answer_webhook(app, receive)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            *((name.encode(), value.encode()) for name, value in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
    finally:
        requests.leave()
