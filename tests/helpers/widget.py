"""The web chat widget's WebSocket as a test client: open a window, read frames, say something."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

VISITOR = "visitor-0123456789abcdef"
COMPLAINT = "это безобразие, привезли сломанный велосипед"
Frame = dict[str, Any]


@asynccontextmanager
async def widget(base: str, visitor: str = VISITOR, **options: Any) -> AsyncIterator[ClientConnection]:
    url = base.replace("http://", "ws://") + f"/ws/chat?visitor={visitor}"
    async with connect(url, **options) as socket:
        yield socket


async def next_frame(socket: ClientConnection) -> Frame:
    frame: Frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
    return frame


async def frames_until(socket: ClientConnection, done: Callable[[Frame], bool]) -> list[Frame]:
    """Frames up to and including the first one for which ``done`` holds."""
    frames = []
    while True:
        frames.append(await next_frame(socket))
        if done(frames[-1]):
            return frames


async def frames_until_each(socket: ClientConnection, *wanted: Callable[[Frame], bool]) -> list[Frame]:
    """Frames until each of ``wanted`` has held for one of them, whatever order they come in.

    (The live queue line and the turn's own replies are sent by different tasks: either may
    reach the customer first.)
    """
    frames: list[Frame] = []
    while not all(any(check(frame) for frame in frames) for check in wanted):
        frames.append(await next_frame(socket))
    return frames


async def opened(socket: ClientConnection) -> tuple[Frame, list[Frame]]:
    """The status and the history every connection starts with."""
    state = await next_frame(socket)
    history = await next_frame(socket)
    assert state["type"] == "status" and history["type"] == "history"
    return state, history["messages"]


async def say(socket: ClientConnection, text: str, client_id: str) -> list[Frame]:
    """The customer's message: its echo, then what came back until the channel is quiet (a status probe)."""
    await socket.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
    await socket.send(json.dumps({"type": "status"}))
    frames = await frames_until(socket, lambda f: f["type"] == "status")
    return frames[:-1]
