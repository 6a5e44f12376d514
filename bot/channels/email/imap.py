"""Reading the shop's mailbox over IMAP (imapclient): new mail as it arrives, each handled once.

imapclient is a maintained, BSD-licensed, pure-Python IMAP4rev1 client with IDLE
(RFC 2177). It is synchronous, so every IMAP step runs in one worker thread of this
reader (a single-thread executor: one connection is never used by two threads at once)
and the event loop never waits on the network. The mail itself is handled on the event
loop, between the steps.

The reader logs in, selects the mailbox and handles every unread (``UNSEEN``) message in
UID order: its size is asked first (``RFC822.SIZE``), a message over the limit is not
downloaded (only its header, to log a note), the others are fetched with ``BODY.PEEK[]``
(which leaves them unread) and handed to ``handle``. Once handled, a message is marked
``\\Seen``: a restart never answers it again (and the channel also knows every Message-ID
it stored). A message ``handle`` could not finish (the store is down) stays unread and is
tried again. Then the reader waits: with IDLE where the server's CAPABILITY offers it (the
server says when mail arrives), else it looks again every ``poll_seconds``. The IDLE wait
is a loop of short ``idle_check`` calls (``IDLE_CHECK_SECONDS``), so stopping never waits
longer than one of them, and the IDLE is renewed after ``idle_seconds`` (servers drop one
after 30 minutes). A lost connection (also one dropped during IDLE) or a refused login is
retried with back-off; the password never reaches a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any, ParamSpec, TypeVar

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError

from bot.channels.email.options import EmailChannelSettings

log = logging.getLogger("botdesk.channels.email")
RETRY_SECONDS = (2.0, 5.0, 15.0, 30.0, 60.0)
FETCH_BATCH = 50  # unread messages handled per pass; the rest in the next pass
IDLE_CHECK_SECONDS = 2.0  # one wait inside IDLE: how long a stop may wait for the worker thread
CLOSE_TIMEOUT_SECONDS = 5.0  # logging out of a connection that may be dead
_SEEN = b"\\Seen"
_BYTES_REPR = re.compile(r"b(['\"])(.*)\1", re.DOTALL)
_SIZE = b"RFC822.SIZE"
_P = ParamSpec("_P")
_T = TypeVar("_T")


class Outcome(Enum):
    """What became of one message: done (mark it read), or leave it unread to try again later."""

    DONE = "done"
    RETRY = "retry"


@dataclass(frozen=True)
class Fetched:
    """One unread message: its UID, its size, and its bytes (the header alone when over the limit)."""

    uid: int
    size: int
    raw: bytes
    oversized: bool = False


Handler = Callable[[Fetched], Awaitable[Outcome]]


class ImapError(Exception):
    """The server refused a step (its answer is in the message, never a password or a mail's text)."""


# What a connection that cannot go on raises: imaplib's error (and abort, imapclient's
# errors subclass it), socket errors and timeouts, TLS errors.
RETRYABLE: tuple[type[BaseException], ...] = (
    TimeoutError,
    ImapError,
    IMAPClientError,
    imaplib.IMAP4.error,
    OSError,
    ssl.SSLError,
)


class MailboxReader:
    """Reads new mail from one mailbox until stopped; see the module docstring."""

    def __init__(self, settings: EmailChannelSettings, password: str, handle: Handler) -> None:
        self.settings = settings
        self._password = password
        self.handle = handle
        self.client: IMAPClient | None = None  # set and cleared in the worker thread only
        self.connected = asyncio.Event()  # tests and the log: logged in and reading
        self.idle_supported = False
        self.passes = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idling = False  # touched only in the worker thread
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botdesk-email-imap")

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="botdesk-email-imap")

    async def stop(self) -> None:
        """Stop after the message in hand; log out (after the worker's current step: seconds at most)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close()
        self._worker.shutdown(wait=False)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._connect()
                failures = 0
                await self._read_forever()
            except asyncio.CancelledError:
                raise
            except RETRYABLE as exc:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning(
                    "the mailbox on %s:%s cannot be read (%s); trying again in %g s",
                    self.settings.imap.host,
                    self.settings.imap.port,
                    _describe(exc),
                    delay,
                )
                await self._close()
                await self._sleep(delay)

    async def _in_thread(self, step: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run one blocking IMAP step in this reader's worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: step(*args, **kwargs))

    async def _connect(self) -> None:
        imap = self.settings.imap
        await self._in_thread(self._connect_blocking)
        self.connected.set()
        log.info(
            "reading the mailbox %s on %s (%s)",
            imap.mailbox,
            imap.host,
            "IMAP IDLE" if self.idle_supported else f"polling every {self.settings.poll_seconds:g} s",
        )

    def _connect_blocking(self) -> None:
        """Connect, log in, select; the client is kept even if the awaiting task was cancelled meanwhile."""
        self._close_connection()
        imap = self.settings.imap
        assert imap.host is not None
        timeout = self.settings.timeout_seconds
        client = IMAPClient(
            imap.host,
            port=imap.port,
            ssl=imap.security == "ssl",
            ssl_context=ssl.create_default_context() if imap.security == "ssl" else None,
            timeout=SocketTimeout(connect=timeout, read=timeout),
        )
        try:
            try:
                client.login(self.settings.imap_username, self._password)
            except LoginError as exc:  # the server's words (imaplib never puts the password in them)
                raise ImapError(f"login refused: {_short(exc)}") from None
            try:
                client.select_folder(imap.mailbox)
            except IMAPClientError as exc:
                raise ImapError(f"the mailbox {imap.mailbox!r} cannot be selected: {_short(exc)}") from None
            self.idle_supported = self.settings.idle and bool(client.has_capability("IDLE"))
        except BaseException:
            _close_blocking(client, idling=False)
            raise
        self._idling = False
        self.client = client

    async def _close(self) -> None:
        """Log out, after the worker's current step: the worker thread owns the connection."""
        self.connected.clear()
        with contextlib.suppress(Exception):
            await self._in_thread(self._close_connection)

    def _close_connection(self) -> None:
        client, self.client = self.client, None
        idling, self._idling = self._idling, False
        if client is not None:
            _close_blocking(client, idling=idling)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    # ---- reading ---------------------------------------------------------------------------
    async def _read_forever(self) -> None:
        while not self._stopping.is_set():
            left = await self.read_once()
            self.passes += 1
            if left:  # something to try again soon: do not wait for new mail to come
                await self._sleep(min(self.settings.poll_seconds, 15.0))
            elif self.idle_supported:
                await self._idle()
            else:
                await self._sleep(self.settings.poll_seconds)
                if not self._stopping.is_set():
                    await self._in_thread(self._client().noop)  # the connection is still there

    async def read_once(self) -> int:
        """Handle every unread message now; how many are left unread to try again (or not yet reached)."""
        client = self._client()
        found = await self._in_thread(client.search, ["UNSEEN"])  # plain ASCII: every server
        uids = sorted({int(uid) for uid in found})
        left = max(0, len(uids) - FETCH_BATCH)
        uids = uids[:FETCH_BATCH]
        if not uids:
            return 0
        sizes = await self._sizes(uids)
        for uid in uids:
            if self._stopping.is_set():
                break
            size = sizes.get(uid)
            if size is None:
                continue  # gone meanwhile (deleted by someone else)
            oversized = size > self.settings.max_message_bytes
            raw = await self._fetch(uid, "HEADER" if oversized else "")
            if raw is None:
                continue
            outcome = await self.handle(Fetched(uid, size, raw, oversized))
            if outcome is Outcome.DONE:
                await self._in_thread(self._client().add_flags, [uid], [_SEEN], silent=True)
            else:
                left += 1
        return left

    async def _sizes(self, uids: list[int]) -> dict[int, int]:
        """The size of each message, asked before any is downloaded."""
        response: dict[int, dict[bytes, Any]] = await self._in_thread(self._client().fetch, uids, [_SIZE])
        return {
            int(uid): int(data[_SIZE]) for uid, data in response.items() if isinstance(data.get(_SIZE), int)
        }

    async def _fetch(self, uid: int, section: str) -> bytes | None:
        """The message's bytes (or its header), with ``BODY.PEEK``: it stays unread until handled."""
        response: dict[int, dict[bytes, Any]] = await self._in_thread(
            self._client().fetch, [uid], [f"BODY.PEEK[{section}]"]
        )
        body = response.get(uid, {}).get(f"BODY[{section}]".encode())
        return bytes(body) if isinstance(body, bytes | bytearray) else None

    async def _idle(self) -> None:
        """Wait in IDLE until the server tells of new mail, ``idle_seconds`` pass, or the reader stops.

        The wait is a loop of short ``idle_check`` calls in the worker thread, so a stop is
        noticed within ``IDLE_CHECK_SECONDS``. A connection the server closed makes
        ``idle_check`` return at once with nothing: the IDLE is ended then, which raises on
        a dead connection (and the reader reconnects) and costs one look on a live one.
        """
        client = self._client()
        await self._in_thread(self._idle_start, client)
        renew_at = time.monotonic() + self.settings.idle_seconds
        try:
            while not self._stopping.is_set() and time.monotonic() < renew_at:
                asked = time.monotonic()
                responses: list[Any] = await self._in_thread(client.idle_check, IDLE_CHECK_SECONDS)
                if any(not _still_here(response) for response in responses):
                    break  # new mail (EXISTS), or anything else: look
                if not responses and time.monotonic() - asked < IDLE_CHECK_SECONDS / 2:
                    break  # woken with nothing to read: perhaps the server closed the connection
        finally:
            if not self._stopping.is_set():
                await self._in_thread(self._idle_done, client)
            # stopping: _close ends the IDLE before logging out

    def _idle_start(self, client: IMAPClient) -> None:
        client.idle()
        self._idling = True

    def _idle_done(self, client: IMAPClient) -> None:
        self._idling = False
        client.idle_done()

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise ImapError("not connected")
        return self.client


def _close_blocking(client: IMAPClient, *, idling: bool) -> None:
    """End an IDLE, log out, and close the socket whatever the server answers (or not)."""
    with contextlib.suppress(Exception):
        client.socket().settimeout(CLOSE_TIMEOUT_SECONDS)
        if idling:
            client.idle_done()
        client.logout()
    with contextlib.suppress(Exception):  # a socket the logout did not close
        client.shutdown()


def _still_here(response: Any) -> bool:
    """The server's keep-alive inside IDLE (``* OK Still here``), which is no news."""
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"OK"


def _short(exc: BaseException) -> str:
    """The server's own words for a refusal, one short line (they hold no password)."""
    text = str(exc).strip()
    quoted = _BYTES_REPR.fullmatch(text)  # imapclient puts the server's bytes in as b'...'
    if quoted:
        text = quoted.group(2)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ImapError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, imaplib.IMAP4.error):  # the server's answer, or "socket error: EOF"
        return f"{type(exc).__name__}: {_short(exc)}"
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
    return type(exc).__name__ + (f": {detail}" if detail else "")
