"""Every HTTP request's body bounded while it is read, and JSON bodies checked before anything parses them.

``BotdeskApp`` (``bot.server.lanes``) puts every HTTP request through this guard
first, the REST webhook's lane included, before FastAPI's stack:

- a body's limit comes from its path: the longest matching prefix of ``server.body_limits``
  (over the routes' own limits, e.g. the REST webhook's 64 KiB and Telegram's 256 KiB),
  else ``server.max_body_bytes`` (1 MiB);
- a declared Content-Length over the limit is answered 413 at once, before a byte of the
  body is read; a body sent without one (chunked) is counted as it streams and refused as
  soon as it passes the limit, so no more than the limit is ever held;
- a JSON body (``application/json``, ``+json``, or no content type, which FastAPI reads as
  JSON) for a FastAPI route is read whole, within its limit, and checked by
  ``bot.json_input`` (nesting, lone surrogates, NaN) before FastAPI parses it: 422 with
  a sentence. Routes that parse their own body (the webhooks) use the same checks.

Refusals are JSON ``{"detail": "..."}`` like every other error. A body that stops coming
is the connection's business (``server.body_timeout_seconds``, ``bot.server.connection_guard``:
408 and closed), as is whatever the client still sends of a refused body (read and
dropped, up to a bound, so a client that reads its answer only after sending gets it).

Starlette's ``RequestBodyLimitMiddleware`` does the counting part inside FastAPI's stack;
this guard has to sit in front of that stack (the webhook is answered there), pick the limit
by path prefix from config.yml, and hold a JSON body for its checks, so it counts by itself.
The webhook's share of it is one pass over the headers and the count of its one read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from bot.json_input import JsonInputError, parse_json_input
from bot.settings import ServerSettings

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestRefused(Exception):
    """A request the guard answers itself: ``status`` and a ``detail`` sentence."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    async def answer(self, send: Send) -> None:
        body = json.dumps({"detail": self.detail}).encode("ascii")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class BodyRefused(HTTPException):
    """Raised from ``receive`` inside FastAPI's stack, whose exception handling answers it."""


def too_large(limit: int) -> str:
    return f"the request body is over {limit} bytes, this route's limit"


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, None without one; ``RequestRefused`` (400) when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise RequestRefused(400, "the Content-Length header is not a number of bytes")
            return int(value)
    return None


def _body_kind(scope: Scope, length: int | None) -> tuple[bool, bool]:
    """(whether the request has a body, whether FastAPI would parse it as JSON)."""
    streamed = False
    content_type: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            streamed = True
        elif name == b"content-type":
            content_type = value
    return bool(length) or streamed, content_type is None or _is_json(content_type)


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class RequestGuard:
    """The body limits by path prefix and the checks of JSON bodies."""

    def __init__(
        self,
        settings: ServerSettings,
        route_limits: Mapping[str, int] | None = None,
        own_parsers: Iterable[str] = (),
    ) -> None:
        """``route_limits``: limits routes declare for themselves (config.yml's ``server.body_limits``
        overrides them); ``own_parsers``: paths whose routes parse and check their own JSON."""
        limits = {**(route_limits or {}), **settings.body_limits}
        self.default_limit = settings.max_body_bytes
        # Longest prefix first: "/api/uploads" wins over "/api".
        self.prefixes = tuple(sorted(limits.items(), key=lambda item: len(item[0]), reverse=True))
        self.own_parsers = frozenset(own_parsers)

    def limit_for(self, path: str) -> int:
        """The body limit of ``path``: its longest matching prefix's, else the default."""
        for prefix, limit in self.prefixes:
            if path.startswith(prefix) and (
                len(path) == len(prefix) or prefix.endswith("/") or path[len(prefix)] == "/"
            ):
                return limit
        return self.default_limit

    def check_head(self, scope: Scope) -> tuple[int | None, int]:
        """The declared body length and the path's limit; ``RequestRefused`` (413) when it declares more."""
        length = declared_length(scope)
        limit = self.limit_for(scope["path"])
        if length is not None and length > limit:
            raise RequestRefused(413, too_large(limit))
        return length, limit

    async def admit(self, scope: Scope, length: int | None, limit: int, receive: Receive) -> Receive:
        """The ``receive`` to give FastAPI's stack: a JSON body already read and checked, else a counting one.

        Raises ``RequestRefused`` for a JSON body that is too large or refused.
        """
        has_body, is_json = _body_kind(scope, length)
        if not has_body:
            return receive
        if is_json and scope["method"] in BODY_METHODS and scope["path"] not in self.own_parsers:
            body = await self.read_body(receive, limit)
            if body:
                try:
                    parse_json_input(body)
                except JsonInputError as exc:
                    raise RequestRefused(422, f"the body is refused: {exc.detail}") from None
            return _replay(body, receive)
        return _counting(receive, limit)

    async def read_body(self, receive: Receive, limit: int) -> bytes:
        """The whole body, ``RequestRefused`` as soon as it passes ``limit`` bytes.

        A body that came in one piece (nearly every one) is returned as it came, uncopied.
        """
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestRefused(400, "the client went away before sending the whole body")
            piece: bytes = message.get("body", b"")
            if len(body) + len(piece) > limit:
                raise RequestRefused(413, too_large(limit))
            if not message.get("more_body", False):
                return piece if not body else bytes(body + piece)
            body += piece


def _counting(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises ``BodyRefused`` (413) once the body passes ``limit`` bytes."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyRefused(413, too_large(limit))
        return message

    return counted


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the server says next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
