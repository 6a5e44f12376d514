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

import orjson

from bot.actions.base import ActionHttp, ActionOutcome, ActionRejected, ActionUnavailable, ActionUnreachable
from bot.actions.endpoints import EndpointConfig

log = logging.getLogger("botdesk.actions")
RASA_VERSION = "3.6.20"  # the protocol version botdesk speaks; rasa-sdk checks only the major
MAX_ANSWER_BYTES = 1024 * 1024


class ActionServerClient:
    """Runs every action the domain declares (``actions:``) on the configured action server."""

    def __init__(self, endpoint: EndpointConfig, actions: set[str]) -> None:
        self.endpoint = endpoint
        self.actions = set(actions)
        self._http = ActionHttp(
            headers=endpoint.headers, basic_auth=endpoint.basic_auth, cafile=endpoint.cafile
        )

    def handles(self, action: str) -> bool:
        return action in self.actions

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
            answer = await self._http.request(
                "POST",
                self.endpoint.url,
                body=orjson.dumps(body, default=str),
                params={key: str(value) for key, value in self.endpoint.query().items()},
                headers={"Content-Type": "application/json"},
                timeout=self.endpoint.timeout,
                limit=MAX_ANSWER_BYTES,
            )
        except TimeoutError:
            log.warning(
                "action %s: the action server did not answer in %.0f s", action, self.endpoint.timeout
            )
            raise ActionUnavailable(f"action {action}: the action server timed out") from None
        except ActionUnreachable as exc:
            log.warning("action %s: the action server is unreachable (%s)", action, exc)
            raise ActionUnavailable(f"action {action}: the action server is unreachable") from None
        except ActionUnavailable as exc:
            raise ActionUnavailable(f"action {action}: the action server's answer: {exc}") from None
        status, raw = answer.status, answer.body
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


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
