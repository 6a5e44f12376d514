"""The VK API over plain httpx: method calls, the Bots Long Poll request, uploads, downloads.

Every method is ``POST {base}/{method}`` with form fields, the token among them (so it is
never part of a URL, and never in an HTTP client's log line); VK answers 200 with
``{"response": ...}`` or ``{"error": {"error_code", "error_msg"}}``. The errors that
matter to a channel get their own class::

    VkApiError                 any error VK answered with
    ├── VkFlood                6 (too many requests per second), 9 (flood control): wait, send again
    ├── VkUnreachable          900/901/902: the customer blocked the community or allows no messages
    └── VkAuthError            5, 27, 28: the token is wrong or lacks a right
    ChannelUnavailable         the API could not be reached or answered garbage: try later

``call`` waits out 6 and 9 itself (a bounded number of times, the same request again) and
keeps below VK's 20 calls per second for a community.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from typing import Any

import httpx

from bot.channels.base import ChannelUnavailable
from bot.channels.vk.env import VkCredentials
from bot.errors import BotdeskError

log = logging.getLogger("botdesk.channels.vk")
FLOOD_CODES = frozenset({6, 9})
UNREACHABLE_CODES = frozenset({900, 901, 902})
AUTH_CODES = frozenset({5, 27, 28})
FLOOD_WAIT = 1.0  # seconds before the first retry; doubled each time
MAX_FLOOD_WAIT = 8.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # an API answer; files have their own limit
POLL_KEY = re.compile(r"([?&]key=)[^&\s]+")


class VkApiError(BotdeskError):
    """An error VK answered with.

    Args:
        code: VK's ``error_code``.
        message: VK's ``error_msg``.
        method: the method called.
    """

    def __init__(self, code: int, message: str, method: str) -> None:
        super().__init__(f"VK {method}: error {code}: {message}")
        self.code = code
        self.vk_message = message
        self.method = method


class VkFlood(VkApiError):
    """6 or 9: too many calls or too many similar messages; the same call later goes through."""


class VkUnreachable(VkApiError):
    """900, 901, 902: the customer blocked the community, allows no messages, or their privacy forbids it."""


class VkAuthError(VkApiError):
    """5, 27, 28: the token is wrong, revoked, or not a community token with the rights needed."""


def api_error(error: Any, method: str) -> VkApiError:
    """VK's ``error`` object as the matching exception."""
    code = error.get("error_code") if isinstance(error, dict) else None
    message = error.get("error_msg") if isinstance(error, dict) else None
    code = code if isinstance(code, int) else -1
    message = str(message or "unknown error")[:300]
    kind = (
        VkFlood
        if code in FLOOD_CODES
        else VkUnreachable
        if code in UNREACHABLE_CODES
        else VkAuthError
        if code in AUTH_CODES
        else VkApiError
    )
    return kind(code, message, method)


def form_value(value: Any) -> str:
    """VK's form encoding: 1/0 for booleans, commas between list items, JSON for objects."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(form_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class Pace:
    """At most ``per_second`` calls in any one second (VK refuses more with error 6)."""

    def __init__(self, per_second: int) -> None:
        self.limit = max(1, per_second)
        self._started: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            while self._started and now - self._started[0] >= 1.0:
                self._started.popleft()
            if len(self._started) >= self.limit:
                await asyncio.sleep(1.0 - (now - self._started[0]))
                self._started.popleft()
            self._started.append(time.monotonic())


class PollKeyRedactor(logging.Filter):
    """The Long Poll key is a credential of the session: never let it into a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "key=" in message and "act=a_check" in message:
            record.msg, record.args = POLL_KEY.sub(r"\1<key>", message), None
        return True


class VkApi:
    """One community's API client; ``aclose`` when done.

    Args:
        credentials: the token and the API's address.
        version: the API version sent with every call (``v``).
        transport: the network (tests put a local fake's here); None: the real one.
        flood_retries: how many 6/9 answers in a row are waited out.
        per_second: calls per second at most.
    """

    def __init__(
        self,
        credentials: VkCredentials,
        version: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        flood_retries: int = 3,
        per_second: int = 20,
    ) -> None:
        self.credentials = credentials
        self.version = version
        self.flood_retries = flood_retries
        self.pace = Pace(per_second)
        self._client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30.0, connect=10.0))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, **params: Any) -> Any:
        """Call an API method; ``VkApiError`` for VK's refusal, ``ChannelUnavailable`` for the network.

        Example::

            message_id = await api.call("messages.send", peer_id=1, random_id=7, message="Hi")
        """
        form = {k: form_value(v) for k, v in params.items() if v is not None}
        form.update(access_token=self.credentials.token, v=self.version)
        attempt = 0
        while True:
            await self.pace.wait()
            body = await self._post(method, form)
            if "error" not in body:
                if "response" not in body:
                    raise ChannelUnavailable(f"VK {method} answered without a response")
                return body["response"]
            error = api_error(body["error"], method)
            if not isinstance(error, VkFlood) or attempt >= self.flood_retries:
                raise error
            wait = min(MAX_FLOOD_WAIT, FLOOD_WAIT * 2**attempt)
            attempt += 1
            log.warning(
                "VK %s: error %d (%s); trying again in %g s", method, error.code, error.vk_message, wait
            )
            await asyncio.sleep(wait)

    async def _post(self, method: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.post(f"{self.credentials.base_url}/{method}", data=form)
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"VK {method}: the API is unreachable ({type(exc).__name__})") from None
        return self._json(response, f"VK {method}")

    @staticmethod
    def _json(response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise ChannelUnavailable(f"{what} answered HTTP {response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ChannelUnavailable(f"{what} answered more than {MAX_RESPONSE_BYTES} bytes")
        try:
            body = response.json()
        except ValueError:
            raise ChannelUnavailable(f"{what} answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise ChannelUnavailable(f"{what} answered JSON that is not an object")
        return body

    async def poll(self, server: str, key: str, ts: str, wait: int) -> dict[str, Any]:
        """One Bots Long Poll request: ``{"ts", "updates"}`` or ``{"failed", ...}``."""
        params = {"act": "a_check", "key": key, "ts": ts, "wait": str(wait)}
        try:
            response = await self._client.get(server, params=params, timeout=httpx.Timeout(wait + 15.0))
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"VK Long Poll is unreachable ({type(exc).__name__})") from None
        return self._json(response, "VK Long Poll")

    async def upload(self, url: str, field: str, name: str, content: bytes, mime: str) -> dict[str, Any]:
        """POST a file to an upload server VK gave (multipart, one field)."""
        try:
            response = await self._client.post(url, files={field: (name, content, mime)})
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"VK upload server is unreachable ({type(exc).__name__})") from None
        body = self._json(response, "VK upload server")
        if "error" in body:
            raise VkApiError(-1, str(body.get("error"))[:300], "upload")
        return body

    async def download(self, url: str, max_bytes: int) -> tuple[bytes, str | None]:
        """A file from a URL (a response's picture), at most ``max_bytes``; its content type."""
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ChannelUnavailable(f"the file answered HTTP {response.status_code}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ChannelUnavailable(f"the file is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                return b"".join(chunks), kind or None
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"the file could not be fetched ({type(exc).__name__})") from None
