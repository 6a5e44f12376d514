"""Connections a client cannot hold open for free: a cap, a deadline for request heads, bounded heads.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but has no deadline
for a request's line and headers: a client sending one header line every few seconds
(slowloris) held a connection, and thousands of them held the server, for as long as
they liked. Nor does it cap the connections it accepts (``limit_concurrency`` answers 503
to *requests* once the connections are counted, after their headers: a slow client never
gets there) or the size of a request head. ``GuardedHttpToolsProtocol`` adds, per
connection (``server:`` in config.yml, docs/security.md):

- ``max_connections``: a connection accepted while that many are open (WebSockets
  included) gets ``503`` and is closed at once, before anything is read;
- ``header_timeout_seconds``: from the connection's start, and from the first byte of each
  later request, its line and headers must be complete within this, or the connection is
  closed (with ``408`` when part of a head had come);
- ``max_header_bytes``: a request line and headers larger than this get ``431`` and a close;
- ``body_timeout_seconds``: a request body that stops coming for this long (while the app
  is ready to read it) gets ``408`` and a close;
- a body the app refused (413) or did not read is read and dropped, up to ``DRAIN_BYTES``
  and ``DRAIN_SECONDS``, so a client that reads its answer only after sending gets it;
  after that the connection is closed.

The usual request (its head and body in one read) costs no timer: only a connection's
first head, and heads and bodies split over several reads, are timed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from bot.server.coalesce import CoalescingHttpToolsProtocol
from bot.settings import ServerSettings

log = logging.getLogger("botdesk.server")
DRAIN_BYTES = 8 * 1024 * 1024
DRAIN_SECONDS = 5.0
REFUSAL_LOG_EVERY = 10.0  # seconds between warnings about refused connections


@dataclass(frozen=True)
class ConnectionLimits:
    """The per-connection limits of ``server:`` in config.yml."""

    max_connections: int = 2048
    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    body_timeout: float = 30.0

    @classmethod
    def of(cls, settings: ServerSettings) -> ConnectionLimits:
        return cls(
            settings.max_connections,
            settings.header_timeout_seconds,
            settings.max_header_bytes,
            settings.body_timeout_seconds,
        )


def _response(status: bytes, text: bytes, *extra: bytes) -> bytes:
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(text)).encode() + b"\r\n",
            b"connection: close\r\n",
            *extra,
            b"\r\n",
            text,
        ]
    )


BUSY = _response(
    b"503 Service Unavailable", b"too many connections; try again shortly", b"retry-after: 5\r\n"
)
HEAD_TIMEOUT = _response(b"408 Request Timeout", b"the request's headers did not arrive in time")
BODY_TIMEOUT = _response(b"408 Request Timeout", b"the request's body stopped coming")
HEAD_TOO_LARGE = _response(
    b"431 Request Header Fields Too Large", b"the request line and headers are too large"
)


class _HeadTooLarge(Exception):
    """Raised from the parser's callback: stops parsing; ``send_400_response`` answers 431 instead."""


class GuardedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """uvicorn's httptools protocol (with coalesced writes) under ``ConnectionLimits``.

    The state is read from uvicorn's own after each read (a head is pending while the
    parser's scope has no request cycle yet), so a request costs two overridden calls.
    """

    _last_refusal_log = 0.0  # shared by all connections: one warning per REFUSAL_LOG_EVERY seconds

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: ConnectionLimits = getattr(config, "connection_limits", None) or ConnectionLimits()
        self._refused = False  # over the cap: answered 503, never parsed
        self._upgraded = False  # a WebSocket now: its protocol owns the transport
        self._since_head = 0  # bytes read since the last complete head: a bound on the next head's size
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._drained = 0

    # ---- the cap ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            transport.write(BUSY)
            transport.close()
            self._log_refusal()
            return
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _log_refusal(self) -> None:
        now = time.monotonic()
        if now - GuardedHttpToolsProtocol._last_refusal_log >= REFUSAL_LOG_EVERY:
            GuardedHttpToolsProtocol._last_refusal_log = now
            log.warning("refusing connections: %d are open (server.max_connections)", len(self.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._refused:
            return  # never counted, never parsed
        super().connection_lost(exc)

    # ---- after each read: heads, bodies, refused bodies ---------------------------------
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._since_head += len(data)
        super().data_received(data)
        if self._upgraded or self._closing():
            return
        cycle, scope = self.cycle, self.scope
        if scope is not None and (cycle is None or cycle.scope is not scope):  # a head is incomplete
            if self._head_too_big():
                self._refuse_head(HEAD_TOO_LARGE)
            elif self._head_timer is None:  # a later request's head split over reads: due by the deadline
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)
            return
        if cycle is None:
            return
        if cycle.response_complete:
            if cycle.more_body:  # answered before its body ended (a 413): what comes is dropped
                self._drop(len(data))
        elif cycle.more_body:  # part of the body is still to come: due within the body timeout
            if self._body_timer is not None:
                self._body_timer.cancel()
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)
        elif self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def on_headers_complete(self) -> None:
        if self._head_too_big():
            self._head_too_large = True
            raise _HeadTooLarge  # httptools stops; uvicorn calls send_400_response
        self._since_head = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._drained = 0
        if self._drain_timer is not None:  # a new request after a refused body: not draining now
            self._drain_timer.cancel()
            self._drain_timer = None
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        self._cancel_timers()
        super().handle_websocket_upgrade()

    # ---- request heads: deadline and size -----------------------------------------------
    def _head_too_big(self) -> bool:
        """The request line and headers parsed so far are over the limit (counted only when they may be)."""
        limit = self.limits.max_header_bytes
        if self._since_head <= limit:  # the usual case: fewer bytes came than the limit
            return False
        size = len(getattr(self, "url", b"")) + sum(len(k) + len(v) + 4 for k, v in self.headers or [])
        return size > limit

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._refuse_head(HEAD_TOO_LARGE)
            return
        super().send_400_response(msg)

    def _refuse_head(self, answer: bytes) -> None:
        self.transport.write(answer)
        self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._upgraded or self._closing():
            return
        cycle, scope = self.cycle, self.scope
        if scope is not None and (cycle is None or cycle.scope is not scope):
            self._refuse_head(HEAD_TIMEOUT)  # part of a request came: say why it ends
        elif cycle is None:
            self.transport.close()  # nothing came at all

    # ---- bodies: one that stops coming, one nobody reads ---------------------------------
    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self._closing() or cycle is None or not cycle.more_body or cycle.response_complete:
            return
        if self.flow.read_paused:  # the app has not read what came: not the client's delay
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)
            return
        if not cycle.response_started:
            self.transport.write(BODY_TIMEOUT)
        self.transport.close()  # the app's receive() gets http.disconnect

    def _drop(self, size: int) -> None:
        """Count what is dropped of a refused body: past DRAIN_BYTES or DRAIN_SECONDS the connection ends."""
        self._drained += size
        if self._drained > DRAIN_BYTES:
            self.transport.close()
        elif self._drain_timer is None:
            self._drain_timer = self.loop.call_later(DRAIN_SECONDS, self._stop_draining)

    def _stop_draining(self) -> None:
        self._drain_timer = None
        if not self._closing():
            self.transport.close()

    def _closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._drain_timer = None


def fit_open_files(max_connections: int, spare: int = 256) -> int | None:
    """Raise this process's soft limit of open files to hold ``max_connections`` (and ``spare`` more:
    the database, the log, the model's files) where the hard limit allows; the limit when it is lower.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + spare
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return None
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if raised > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    return None if raised >= wanted else raised


class BotdeskUvicornConfig(uvicorn.Config):
    """uvicorn's config, carrying the ``ConnectionLimits`` its protocol reads."""

    connection_limits: ConnectionLimits = ConnectionLimits()


def uvicorn_config(app: Any, settings: ServerSettings | None = None, **options: Any) -> uvicorn.Config:
    """uvicorn serving ``app`` as ``botdesk run`` does (the test servers are made with it too).

    ``settings``: the ``server:`` limits; by default those of the app (``BotdeskApp.server_settings``).
    """
    if settings is None:
        settings = getattr(app, "server_settings", None) or ServerSettings()
    options.setdefault("timeout_keep_alive", settings.keep_alive_seconds)
    options.setdefault("ws_max_size", settings.websocket_max_bytes)
    config = BotdeskUvicornConfig(app, http=GuardedHttpToolsProtocol, **options)
    config.connection_limits = ConnectionLimits.of(settings)
    return config
