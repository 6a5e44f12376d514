"""HTTP by hand over asyncio streams on 127.0.0.1, for what ordinary clients cannot do.

An ordinary client sends the whole body before it reads the answer and never sends a
header line by the second; an attacker does both. ``upload`` streams a body while it
reads, so an early answer (a 413 before the body) is seen as the server sent it and the
upload stops there; ``Connection`` keeps a socket open to send a request a piece at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

MB = 1024 * 1024


@dataclass
class Outcome:
    """What an upload got: the answer's status (None: none came) and how much of the body was sent."""

    status: int | None
    sent: int
    answer: bytes = b""


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None, base_url
    return parts.hostname, parts.port


def pieces(total: int, size: int) -> Iterator[bytes]:
    """``total`` bytes of a JSON-looking body in pieces of ``size``, made as they are sent."""
    piece = b'{"login": "' + b"a" * max(0, size - 11)
    sent = 0
    while sent < total:
        chunk = piece[: min(size, total - sent)]
        sent += len(chunk)
        yield chunk


async def upload(
    base_url: str,
    path: str,
    total: int,
    *,
    chunked: bool,
    piece: int = 256 * 1024,
    method: str = "POST",
    content_type: str = "application/json",
    timeout: float = 60.0,
) -> Outcome:
    """Send ``total`` bytes to ``path`` (Content-Length, or chunked) while reading; stop at the answer."""
    host, port = address(base_url)
    reader, writer = await asyncio.open_connection(host, port)
    length = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % total
    writer.write(
        b"%s %s HTTP/1.1\r\nhost: %s\r\ncontent-type: %s\r\n%s\r\n\r\n"
        % (method.encode(), path.encode(), host.encode(), content_type.encode(), length)
    )
    answer = asyncio.create_task(read_answer(reader))
    sent = 0
    try:
        for chunk in pieces(total, piece):
            if answer.done():
                break
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
            await asyncio.sleep(0)  # drain() need not yield: let the answer be read as it comes
            sent += len(chunk)
        else:
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server closed the connection: its answer, if any, is read below
    try:
        status, raw = await asyncio.wait_for(answer, timeout)
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        status, raw = None, b""
    finally:
        answer.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return Outcome(status, sent, raw)


async def read_answer(reader: asyncio.StreamReader) -> tuple[int | None, bytes]:
    """The status and the whole of one answer (head and body), or what came before the connection ended."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        return status_of(exc.partial), exc.partial
    except (ConnectionError, asyncio.LimitOverrunError):
        return None, b""
    lines = head.lower().split(b"\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in lines if line.startswith(b"content-length:")), 0)
    try:
        body = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        body = getattr(exc, "partial", b"")
    return status_of(head), head + body


def status_of(head: bytes) -> int | None:
    parts = head.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
        return int(parts[1])
    return None


class Connection:
    """One TCP connection to the server, written to a piece at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base_url: str) -> Connection:
        return cls(*await asyncio.open_connection(*address(base_url)))

    async def send(self, data: bytes) -> bool:
        """False when the server has closed the connection."""
        if self.writer.is_closing() or self.reader.at_eof():
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            return False
        return True

    async def closed_by_server(self, within: float) -> bytes | None:
        """What the server sent before closing, if it closes within ``within`` seconds; else None."""
        received = b""
        try:
            async with asyncio.timeout(within):
                while chunk := await self.reader.read(65536):
                    received += chunk
        except TimeoutError:
            return None
        except (ConnectionError, OSError):
            pass
        return received

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
