"""Channel lanes: the requests that carry every customer message, answered before FastAPI's stack.

Each request through FastAPI walks Starlette's error and exception layers, FastAPI's
telemetry and body-limit wrappers, the router and the dependency solver: together as much
CPU as the NLU. A channel may declare a lane for its hot path (``ChannelHttp.lanes``: the
REST webhook is one): ``BotdeskApp`` answers ``(method, path)`` with the channel's own
handler and passes everything else on. The route of the same path stays in the app (for
OpenAPI, and serving without the lane gives the same answers). A lane's request counts as in
flight, as any other does, so shutdown still waits for it and refuses new ones.

Every HTTP request, a lane's included, first passes the app's ``RequestGuard``
(``bot.server.request_guard``): its body limit by path, its JSON checks; a lane reads its
body through the guard (``BodyReader``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from bot.channels.base import BodyRejected, Lane
from bot.server.inflight import InFlight, refuse_shutting_down
from bot.server.request_guard import RequestGuard, RequestRefused
from bot.settings import ServerSettings


class BotdeskApp(FastAPI):
    """FastAPI behind a ``RequestGuard``, with the channels' lanes served in front of it."""

    server_settings = ServerSettings()  # create_app sets config.yml's server section
    guard = RequestGuard(server_settings)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lanes: dict[tuple[str, str], Lane] = {}  # create_app sets the configured channels'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        lane = self.lanes.get((scope["method"], scope["path"]))
        try:
            length, limit = self.guard.check_head(scope)
            if lane is None:
                receive = await self.guard.admit(scope, length, limit, receive)
        except RequestRefused as refused:
            await refused.answer(send)
            return
        if lane is None:
            await super().__call__(scope, receive, send)
            return
        requests: InFlight = self.state.requests
        if requests.closing:
            await refuse_shutting_down(send)
            return
        guard = self.guard

        async def read_body(body_receive: Receive) -> bytes:
            try:
                return await guard.read_body(body_receive, limit)
            except RequestRefused as refused:
                raise BodyRejected(refused.status, refused.detail) from None

        requests.enter()
        try:
            await lane(scope, receive, send, read_body)
        finally:
            requests.leave()
