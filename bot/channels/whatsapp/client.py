"""The Graph API's WhatsApp calls over httpx: send a message, find and upload media, check the number.

One seam to the network: ``GraphClient`` (``ChannelContext.transport`` and the base URL
point it at a local fake in the tests). Graph's errors arrive as
``{"error": {"code", "message", "error_subcode", ...}}`` with a 4xx status; they become one
``GraphError`` whose properties say what the channel does about them:

- ``rate_limited`` (HTTP 429, codes 4, 80007, 130429 and 131056): waited out and sent again
  here, a few times with a doubling wait (``rate_limit_retries``); then the channel parks
  the message for redelivery;
- ``undeliverable`` (131026: no WhatsApp on that number, an old app, a block): the customer
  is marked unreachable, no retries;
- ``window_closed`` (131047): more than 24 hours since the customer wrote;
- ``temporary`` (5xx, 131000, 131016, the network): parked and sent again later;
- anything else is permanent for that message (a malformed one, say): logged, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from bot.channels.whatsapp.env import WhatsAppCredentials
from bot.errors import BotdeskError
from bot.json_input import JsonInputError, parse_json_input

log = logging.getLogger("botdesk.channels.whatsapp")
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056})
TEMPORARY_CODES = frozenset({1, 2, 131000, 131016, 133004})
AUTH_CODES = frozenset({190, 10, 200})
UNDELIVERABLE = 131026
WINDOW_CLOSED = 131047
NOT_FOUND_CODES = frozenset({100})  # "Unsupported get request. Object ... does not exist"
MAX_RATE_WAIT = 60.0
MAX_ANSWER_BYTES = 256 * 1024


class GraphError(BotdeskError):
    """The Graph API refused a call (or could not be reached: ``status`` 0).

    Args:
        status: the HTTP status (0: no answer at all).
        code: Graph's error code (``error.code``), None when the answer had none.
        title: Graph's message, for logs (it never holds the customer's text).
    """

    def __init__(self, status: int, code: int | None, title: str, retry_after: float | None = None) -> None:
        super().__init__(f"WhatsApp answered HTTP {status}, error {code}: {title}" if status else title)
        self.status = status
        self.code = code
        self.title = title
        self.retry_after = retry_after

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or self.code in RATE_LIMIT_CODES

    @property
    def undeliverable(self) -> bool:
        return self.code == UNDELIVERABLE

    @property
    def window_closed(self) -> bool:
        return self.code == WINDOW_CLOSED

    @property
    def unauthorized(self) -> bool:
        return self.status == 401 or self.code in AUTH_CODES

    @property
    def temporary(self) -> bool:
        """Worth sending again later: the network, Meta's side, a rate limit, a token being replaced."""
        return (
            self.status == 0
            or self.status >= 500
            or self.code in TEMPORARY_CODES
            or self.rate_limited
            or self.unauthorized
        )

    @property
    def not_found(self) -> bool:
        return self.status == 404 or self.code in NOT_FOUND_CODES


def error_of(response: httpx.Response) -> GraphError:
    """The ``GraphError`` a non-2xx answer carries (whatever its body is)."""
    code: int | None = None
    title = response.reason_phrase or "error"
    try:
        data = parse_json_input(response.content[:MAX_ANSWER_BYTES])
    except JsonInputError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        raw = error.get("code")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if isinstance(error.get("message"), str):
            title = error["message"][:300]
    retry_after = None
    header = response.headers.get("retry-after", "")
    if header.isdigit():
        retry_after = float(header)
    return GraphError(response.status_code, code, title, retry_after)


class GraphClient:
    """The WhatsApp Cloud API of one business number.

    Args:
        credentials: the token, the phone number id and the API's address.
        transport: httpx's transport (None: the real network).
        rate_limit_retries: rate-limit answers waited out per call before giving up.
        rate_limit_wait: the first wait, doubled for each further one.
    """

    def __init__(
        self,
        credentials: WhatsAppCredentials,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        rate_limit_retries: int = 3,
        rate_limit_wait: float = 1.0,
    ) -> None:
        self.credentials = credentials
        self.rate_limit_retries = rate_limit_retries
        self.rate_limit_wait = rate_limit_wait
        self.http = httpx.AsyncClient(
            base_url=credentials.api_url + "/",
            transport=transport,
            headers={"Authorization": f"Bearer {credentials.token}"},
            timeout=httpx.Timeout(30.0, connect=10.0),
        )
        # Pictures of the bot's responses, fetched to be uploaded: any host, never with the token.
        self.files = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30.0, connect=10.0))

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.files.aclose()

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.token}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One Graph call and its JSON object; rate limits waited out; ``GraphError`` otherwise."""
        attempt = 0
        while True:
            try:
                response = await self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise GraphError(0, None, f"WhatsApp could not be reached ({type(exc).__name__})") from None
            if response.is_success:
                try:
                    data = parse_json_input(response.content[:MAX_ANSWER_BYTES])
                except JsonInputError:
                    data = None
                if not isinstance(data, dict):
                    raise GraphError(502, None, "WhatsApp's answer was not a JSON object")
                return data
            error = error_of(response)
            if not error.rate_limited or attempt >= self.rate_limit_retries:
                raise error
            wait = min(error.retry_after or self.rate_limit_wait * 2**attempt, MAX_RATE_WAIT)
            attempt += 1
            log.warning("WhatsApp rate limit (error %s): waiting %g s before trying again", error.code, wait)
            await asyncio.sleep(wait)

    async def check_number(self) -> dict[str, Any]:
        """The business number as Graph knows it; checks the token and the phone number id."""
        return await self._call(
            "GET",
            self.credentials.phone_number_id,
            params={"fields": "id,display_phone_number,verified_name"},
        )

    async def send(self, to: str, payload: dict[str, Any]) -> str:
        """Send one message (``render``'s payload) to ``to``; returns its id (``wamid``)."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **payload}
        data = await self._call("POST", f"{self.credentials.phone_number_id}/messages", json=body)
        messages = data.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("id") or "")
        return ""

    async def media_url(self, media_id: str) -> str:
        """Where a customer's file can be downloaded now (for 5 minutes), with ``auth_headers``."""
        data = await self._call("GET", media_id, params={"phone_number_id": self.credentials.phone_number_id})
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GraphError(502, None, "WhatsApp gave no download URL for the file")
        return url

    async def upload(self, content: bytes, mime: str, filename: str) -> str:
        """Upload a file for sending (``/{phone_number_id}/media``); returns its media id."""
        data = await self._call(
            "POST",
            f"{self.credentials.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime},
            files={"file": (filename, content, mime)},
        )
        media_id = data.get("id")
        if not isinstance(media_id, str | int) or not str(media_id):
            raise GraphError(502, None, "WhatsApp gave no id for the uploaded file")
        return str(media_id)

    async def fetch(self, url: str, limit: int) -> tuple[bytes, str]:
        """A picture to upload, from wherever the bot's response points (no token sent): (bytes, type).

        Raises:
            GraphError: not reachable, not a picture, or over ``limit`` bytes (status 422: not
                WhatsApp's refusal, whatever the picture's host answered).
        """
        chunks: list[bytes] = []
        size = 0
        try:
            async with self.files.stream("GET", url) as response:
                if response.status_code != 200:
                    raise GraphError(422, None, f"the picture's host answered HTTP {response.status_code}")
                mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if mime not in ("image/jpeg", "image/png"):
                    raise GraphError(422, None, f"WhatsApp takes JPEG and PNG pictures, not {mime or '?'}")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise GraphError(422, None, f"the picture is over {limit} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise GraphError(422, None, f"the picture could not be fetched ({type(exc).__name__})") from None
        return b"".join(chunks), mime
