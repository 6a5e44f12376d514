"""The small contract between the dialogue engine and whatever runs custom actions.

An executor gets Rasa's own request shapes (the tracker state and the domain as the
action server receives them) and answers with Rasa events and responses, so the engine
applies the outcome of a rasa-sdk action, a declarative HTTP action or a test fake the
same way. Failing to reach an integration is :class:`ActionUnavailable` (the engine
hands the dialogue to a person); an action refusing to run is :class:`ActionRejected`
(Rasa's ActionExecutionRejection: other rules and stories get their turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


@dataclass
class ActionOutcome:
    """What an action did: Rasa events (``{"event": "slot", ...}``) and responses to say."""

    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


class ActionUnavailable(Exception):
    """The integration behind an action could not be reached or failed (timeout, 5xx, bad answer)."""


class ActionRejected(Exception):
    """The action refused to run (Rasa's ActionExecutionRejection, HTTP 400 from an action server)."""


class ActionExecutor(Protocol):
    """Runs actions by name; ``handles`` says which names it knows."""

    def handles(self, action: str) -> bool: ...

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionOutcome: ...


class NoActions:
    """No integrations: any custom action is unavailable (the engine hands off)."""

    def handles(self, action: str) -> bool:
        return False

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionOutcome:
        raise ActionUnavailable(f"no action server or HTTP action runs '{action}'")


class Executors:
    """Several executors, asked in order: the first that handles a name runs it."""

    def __init__(
        self, executors: list[ActionExecutor], by_name: Mapping[str, ActionExecutor] | None = None
    ) -> None:
        self.executors = list(executors)
        self.by_name = dict(by_name or {})

    def handles(self, action: str) -> bool:
        return action in self.by_name or any(e.handles(action) for e in self.executors)

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionOutcome:
        executor = self.by_name.get(action) or next((e for e in self.executors if e.handles(action)), None)
        if executor is None:
            raise ActionUnavailable(f"no action server or HTTP action runs '{action}'")
        return await executor.run(action, tracker, domain)


class PerLoopClient:
    """An HTTP connection pool per event loop: a pool cannot outlive the loop it was made in.

    The action runners are built once per project and used from the server's loop, the
    shell's and the story runner's; each loop gets its own pool from ``make``. A client
    given by the caller (tests, a shared pool) is used as it is.

    Args:
        make: builds a new ``httpx.AsyncClient`` (the runner's timeouts, auth, headers).
        given: a client to use instead, on any loop.
    """

    def __init__(
        self, make: Callable[[], httpx.AsyncClient], given: httpx.AsyncClient | None = None
    ) -> None:
        self._make = make
        self._client = given
        self._given = given is not None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> httpx.AsyncClient:
        """The pool for the running loop."""
        if self._given and self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._loop = loop
            self._client = self._make()
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
