"""One socket write per HTTP response, the same bytes in the same order; WebSockets untouched."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bot.server.coalesce import CoalescingTransport
from tests.helpers.server import serve


class RecordingTransport(asyncio.Transport):
    """The socket's transport, as far as the wrapper can tell: what reached it, and when it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_of_one_loop_pass_reach_the_socket_as_one() -> None:
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.writelines([b"{", b"}"])
    assert raw.writes == [] and transport.get_write_buffer_size() == 21
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert raw.writes[1:] == [b"next"]


async def test_close_sends_what_was_written_first_and_abort_drops_it() -> None:
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"bye")
    transport.close()
    assert raw.writes == [b"bye"] and raw.closed
    await asyncio.sleep(0)
    assert raw.writes == [b"bye"]  # the scheduled flush finds nothing more

    dropped = RecordingTransport()
    transport = CoalescingTransport(dropped, asyncio.get_running_loop())
    transport.write(b"never")
    transport.abort()
    await asyncio.sleep(0)
    assert dropped.writes == [] and dropped.aborted


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())


async def hello(request: Any) -> JSONResponse:
    return JSONResponse({"answer": "привет " * 10})


async def test_a_real_server_answers_http_in_one_write_and_still_upgrades_websockets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flushed: list[int] = []
    original = CoalescingTransport.flush

    def counting_flush(self: CoalescingTransport) -> None:
        if self._pending:
            flushed.append(len(self._pending))
        original(self)

    monkeypatch.setattr(CoalescingTransport, "flush", counting_flush)
    app = Starlette(routes=[Route("/hello", hello), WebSocketRoute("/echo", echo)])
    async with serve(app) as (url, _server), httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):  # one keep-alive connection, three responses
            answer = await client.get("/hello")
            assert answer.status_code == 200 and json.loads(answer.content)["answer"].startswith("привет")
        assert flushed == [2, 2, 2]  # status line and headers, then the body: one write each time
        async with websockets.connect(url.replace("http", "ws") + "/echo") as socket:
            for word in ("раз", "два"):
                await socket.send(word)
                assert await socket.recv() == word.upper()
    assert flushed[3:] == []  # the WebSocket wrote through the socket's own transport
