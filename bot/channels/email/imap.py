"""Reading the shop's mailbox over IMAP (aioimaplib): new mail as it arrives, each handled once.

aioimaplib is an asyncio IMAP4rev1 client with IDLE (RFC 2177), maintained and
pure Python, so the mailbox is read in the server's own event loop like everything else
(imapclient, the other maintained choice, is synchronous: it would need a thread).

The reader logs in, selects the mailbox and handles every unread (``UNSEEN``) message in
UID order: its size is asked first, a message over the limit is not downloaded (only its
header, to log a note), the others are fetched with ``BODY.PEEK[]`` (which leaves them
unread) and handed to ``handle``. Once handled, a message is marked ``\\Seen``: a restart
never answers it again (and the channel also knows every Message-ID it stored). A
message ``handle`` could not finish (the store is down) stays unread and is tried again.
Then the reader waits: with IDLE where the server offers it (the server says when mail
arrives), else it looks again every ``poll_seconds``. A lost connection or a refused login
is retried with back-off; the password never reaches a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import TYPE_CHECKING

from bot.channels.email.options import EmailChannelSettings
from bot.errors import ConfigError

if TYPE_CHECKING:
    from aioimaplib import aioimaplib

log = logging.getLogger("botdesk.channels.email")
RETRY_SECONDS = (2.0, 5.0, 15.0, 30.0, 60.0)
FETCH_BATCH = 50  # unread messages handled per pass; the rest in the next pass
_FETCH_LINE = re.compile(rb"\bUID (\d+)\b")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)\b")


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


def imap_library() -> ModuleType:
    """aioimaplib, imported when the mailbox is read: an extra (GPL-3.0), so a ConfigError without it."""
    try:
        return importlib.import_module("aioimaplib.aioimaplib")
    except ImportError:
        raise ConfigError(
            "the e-mail channel reads the mailbox with aioimaplib: pip install 'botdesk[email]'"
        ) from None


class MailboxReader:
    """Reads new mail from one mailbox until stopped; see the module docstring."""

    def __init__(self, settings: EmailChannelSettings, password: str, handle: Handler) -> None:
        self.settings = settings
        self._password = password
        self.handle = handle
        self.imap = imap_library()
        self.client: aioimaplib.IMAP4 | None = None
        self.connected = asyncio.Event()  # tests and the log: logged in and reading
        self.idle_supported = False
        self.passes = 0
        self._stopping = asyncio.Event()
        self._broken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="botdesk-email-imap")

    async def stop(self) -> None:
        """Stop after the message in hand; log out."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._connect()
                failures = 0
                await self._read_forever()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, ImapError, self.imap.AioImapException, OSError, ssl.SSLError) as exc:
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

    async def _connect(self) -> None:
        imap = self.settings.imap
        timeout = self.settings.timeout_seconds
        assert imap.host is not None
        if imap.security == "ssl":
            client: aioimaplib.IMAP4 = self.imap.IMAP4_SSL(
                host=imap.host, port=imap.port, timeout=timeout, ssl_context=ssl.create_default_context()
            )
        else:
            client = self.imap.IMAP4(host=imap.host, port=imap.port, timeout=timeout)
        self.client = client
        self._broken = asyncio.Event()
        client.protocol.conn_lost_cb = self._connection_lost  # IMAP4_SSL takes no callback of its own
        await client.wait_hello_from_server()
        response = await client.login(self.settings.imap_username, self._password)
        if response.result != "OK":
            raise ImapError(f"login refused: {_server_text(response)}")
        response = await client.select(_quoted(imap.mailbox))
        if response.result != "OK":
            raise ImapError(f"the mailbox {imap.mailbox!r} cannot be selected: {_server_text(response)}")
        self.idle_supported = self.settings.idle and client.has_capability("IDLE")
        self.connected.set()
        log.info(
            "reading the mailbox %s on %s (%s)",
            imap.mailbox,
            imap.host,
            "IMAP IDLE" if self.idle_supported else f"polling every {self.settings.poll_seconds:g} s",
        )

    def _connection_lost(self, exc: Exception | None) -> None:
        """The server closed the connection: wake an IDLE wait, which would otherwise sleep it out."""
        self._broken.set()
        client = self.client
        if client is not None:
            client.protocol.idle_queue.put_nowait(self.imap.STOP_WAIT_SERVER_PUSH)

    async def _close(self) -> None:
        self.connected.clear()
        client, self.client = self.client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(client.logout(), 5)
        with contextlib.suppress(Exception):  # a transport the logout did not close
            transport = client.protocol.transport
            if transport is not None:
                transport.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

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
                await self._call(self._client().noop())  # the connection is still there

    async def read_once(self) -> int:
        """Handle every unread message now; how many are left unread to try again (or not yet reached)."""
        client = self._client()
        response = await self._call(client.uid_search("UNSEEN", charset=None))  # plain ASCII: every server
        uids = sorted(
            {int(token) for line in response.lines[:-1] for token in line.split() if token.isdigit()}
        )
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
            raw = await self._fetch(uid, "BODY.PEEK[HEADER]" if oversized else "BODY.PEEK[]")
            if raw is None:
                continue
            outcome = await self.handle(Fetched(uid, size, raw, oversized))
            if outcome is Outcome.DONE:
                await self._mark_seen(uid)
            else:
                left += 1
        return left

    async def _sizes(self, uids: list[int]) -> dict[int, int]:
        response = await self._call(self._client().uid("fetch", _uid_set(uids), "(RFC822.SIZE)"))
        sizes = {}
        for line in response.lines:
            if isinstance(line, bytes | bytearray):
                uid, size = _FETCH_LINE.search(line), _SIZE.search(line)
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    async def _fetch(self, uid: int, part: str) -> bytes | None:
        response = await self._call(self._client().uid("fetch", str(uid), f"({part})"))
        for line in response.lines:
            if isinstance(line, bytearray):  # the literal: the message's bytes
                return bytes(line)
        return None

    async def _mark_seen(self, uid: int) -> None:
        await self._call(self._client().uid("store", str(uid), "+FLAGS.SILENT (\\Seen)"))

    async def _idle(self) -> None:
        """Wait in IDLE until the server tells of new mail, ``idle_seconds`` pass, or the reader stops."""
        client = self._client()
        idle = await client.idle_start(timeout=self.settings.idle_seconds)
        try:
            while not self._stopping.is_set():
                pushed = await client.wait_server_push(timeout=self.settings.idle_seconds + 5)
                if self._broken.is_set():
                    raise ImapError("the server closed the connection")
                if pushed == self.imap.STOP_WAIT_SERVER_PUSH:
                    break  # renew the IDLE, as servers drop one after 30 minutes
                lines = pushed if isinstance(pushed, list) else [pushed]
                if any(b"EXISTS" in line for line in lines if isinstance(line, bytes | bytearray)):
                    break
        finally:
            if not self._broken.is_set():
                if client.has_pending_idle():
                    client.idle_done()
                await asyncio.wait_for(idle, self.settings.timeout_seconds)
            else:
                idle.cancel()

    async def _call(self, step: Awaitable[aioimaplib.Response]) -> aioimaplib.Response:
        response = await step
        if response.result != "OK":
            raise ImapError(_server_text(response))
        return response

    def _client(self) -> aioimaplib.IMAP4:
        if self.client is None:
            raise ImapError("not connected")
        return self.client


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _quoted(mailbox: str) -> str:
    return f'"{mailbox}"' if " " in mailbox else mailbox


def _server_text(response: aioimaplib.Response) -> str:
    """The server's own words for a refusal, one short line (they hold no password)."""
    for line in reversed(response.lines):
        if isinstance(line, bytes):
            return line.decode("utf-8", "replace")[:200]
    return str(response.result)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ImapError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
    return type(exc).__name__ + (f": {detail}" if detail else "")
