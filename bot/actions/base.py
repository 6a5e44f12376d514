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
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp


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


class ActionUnreachable(Exception):
    """No HTTP answer: the connection was refused or broke (the message names the error type)."""


@dataclass(frozen=True)
class HttpAnswer:
    """An integration's HTTP answer: its status and its body, read up to the caller's limit."""

    status: int
    body: bytes


class ActionHttp:
    """The action runners' HTTP client: one connection pool per event loop, bodies read with a limit.

    An action's call sits inside a customer's turn, so its cost is the turn's: aiohttp here,
    not httpx as elsewhere, because on this project's benchmark machine a keep-alive request
    costs about a fifth of httpx's CPU (`benchmarks/client_costs.py`, docs/benchmarks.md). The
    runners are built once per project and used from the server's loop, the shell's and the
    story runner's; a pool cannot outlive its loop, so each loop gets its own.

    Args:
        headers: sent with every request (an action server's configured headers).
        basic_auth: (user, password) for every request.
        cafile: a CA bundle to verify the server's certificate with, instead of the system's.

    Example::

        http = ActionHttp()
        answer = await http.request("GET", "http://127.0.0.1:8091/api/orders/1234567",
                                    timeout=5, limit=256 * 1024)
        answer.status, answer.body   # 200, b'{"status": ...}'
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        cafile: str | None = None,
    ) -> None:
        self._headers = dict(headers or {})
        self._auth = aiohttp.BasicAuth(*basic_auth) if basic_auth else None
        self._cafile = cafile
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._loop = loop
            ssl_context = ssl.create_default_context(cafile=self._cafile) if self._cafile else True
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                auth=self._auth,
                connector=aiohttp.TCPConnector(ssl=ssl_context),
                trust_env=False,
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        limit: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        read_body: Callable[[int], bool] = lambda status: True,
    ) -> HttpAnswer:
        """One request, no redirects followed.

        Args:
            timeout: seconds for the whole exchange.
            limit: the most bytes of body read; a larger answer (declared or sent) is
                ``ActionUnavailable``, before any of it is parsed.
            read_body: whether to read the body of an answer with this status.

        Returns:
            The status and the body (empty where ``read_body`` said no).

        Raises:
            TimeoutError: no complete answer within ``timeout``.
            ActionUnreachable: the connection failed.
            ActionUnavailable: the answer is larger than ``limit``.
        """
        try:
            async with self._current().request(
                method,
                url,
                params=dict(params) if params else None,
                headers=dict(headers) if headers else None,
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                status = answer.status
                if not read_body(status):
                    return HttpAnswer(status, b"")
                if (answer.content_length or 0) > limit:
                    raise ActionUnavailable(f"the answer is larger than {limit} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in answer.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise ActionUnavailable(f"the answer is larger than {limit} bytes")
                    chunks.append(chunk)
                return HttpAnswer(status, b"".join(chunks))
        except TimeoutError:  # before ClientError: aiohttp's ServerTimeoutError is both
            raise
        except aiohttp.ClientError as exc:
            raise ActionUnreachable(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
