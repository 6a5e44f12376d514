"""Custom actions on a Rasa action server (``rasa-sdk``), spoken to exactly as Rasa does.

POST ``action_endpoint.url`` with ``{"next_action", "sender_id", "tracker", "domain",
"version"}``; a 200 answer is ``{"events": [...], "responses": [...]}``; a 400 is the
action rejecting itself (ActionExecutionRejection); anything else, a timeout or a refused
connection means the integration is unavailable. Answers are read up to a size limit
before they are parsed, and nothing from the request or the answer is logged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson

from bot.actions.base import ActionOutcome, ActionRejected, ActionUnavailable, PerLoopClient
from bot.actions.endpoints import EndpointConfig

log = logging.getLogger("botdesk.actions")
RASA_VERSION = "3.6.20"  # the protocol version botdesk speaks; rasa-sdk checks only the major
MAX_ANSWER_BYTES = 1024 * 1024


class ActionServerClient:
    """Runs every action the domain declares (``actions:``) on the configured action server."""

    def __init__(
        self, endpoint: EndpointConfig, actions: set[str], client: httpx.AsyncClient | None = None
    ) -> None:
        self.endpoint = endpoint
        self.actions = set(actions)
        self._http = PerLoopClient(self._new_client, client)

    def handles(self, action: str) -> bool:
        return action in self.actions

    def _new_client(self) -> httpx.AsyncClient:
        auth = httpx.BasicAuth(*self.endpoint.basic_auth) if self.endpoint.basic_auth else None
        return httpx.AsyncClient(
            timeout=self.endpoint.timeout,
            auth=auth,
            verify=self.endpoint.cafile or True,
            headers=self.endpoint.headers,
            follow_redirects=False,
        )

    def client(self) -> httpx.AsyncClient:
        return self._http.get()

    async def close(self) -> None:
        await self._http.close()

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionOutcome:
        body = {
            "next_action": action,
            "sender_id": tracker.get("sender_id"),
            "tracker": tracker,
            "domain": domain,
            "version": RASA_VERSION,
        }
        try:
            async with self.client().stream(
                "POST",
                self.endpoint.url,
                content=orjson.dumps(body, default=str),
                params=self.endpoint.query(),
                headers={"Content-Type": "application/json"},
            ) as response:
                raw = await _read_limited(response)
                status = response.status_code
        except httpx.TimeoutException:
            log.warning(
                "action %s: the action server did not answer in %.0f s", action, self.endpoint.timeout
            )
            raise ActionUnavailable(f"action {action}: the action server timed out") from None
        except httpx.HTTPError as exc:
            log.warning("action %s: the action server is unreachable (%s)", action, type(exc).__name__)
            raise ActionUnavailable(f"action {action}: the action server is unreachable") from None
        if status == 400:
            error = _json(raw) or {}
            message = error.get("error") if isinstance(error, dict) else None
            raise ActionRejected(str(message or f"action {action} rejected itself"))
        if status != 200:
            log.warning("action %s: the action server answered HTTP %s", action, status)
            raise ActionUnavailable(f"action {action}: the action server answered HTTP {status}")
        answer = _json(raw)
        if not isinstance(answer, dict):
            raise ActionUnavailable(f"action {action}: the action server's answer is not a JSON object")
        events, responses = answer.get("events") or [], answer.get("responses") or []
        if not isinstance(events, list) or not isinstance(responses, list):
            raise ActionUnavailable(f"action {action}: 'events' and 'responses' must be lists")
        if not all(isinstance(e, dict) and "event" in e for e in events) or not all(
            isinstance(r, dict) for r in responses
        ):
            raise ActionUnavailable(f"action {action}: malformed events or responses")
        return ActionOutcome(events, responses)


async def _read_limited(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise ActionUnavailable(f"the action server's answer is larger than {MAX_ANSWER_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ActionUnavailable(f"the action server's answer is larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
