"""A declarative HTTP action: call a URL with slot values, map the JSON answer to slots.

Declared in ``stories/*.yml`` under ``http_actions:``, no Python needed::

    http_actions:
      action_order_status:
        url: "${BOTDESK_SHOP_URL:-http://127.0.0.1:8091}/api/orders/{order_number}"
        method: GET                 # or POST, with body: {...} (values may name slots)
        requires: [order_number]    # unset: say `missing`, call nothing
        missing: utter_ask_order_number
        slots:                      # slot: dotted path in the JSON answer
          order_status: status
          order_eta: delivery.eta
        response: utter_order_status_found   # said with the slots and the answer's fields
        not_found: utter_order_not_found     # HTTP 404
        timeout: 5

``${VAR}`` / ``${VAR:-default}`` come from the environment when the project loads;
``{slot}`` is the slot's value (URL-quoted in the URL). A timeout, a refused connection,
a 5xx or an answer that is not JSON is :class:`ActionUnavailable`: the engine hands the
dialogue to a person with the reason "integration_unavailable", or says ``error:`` when
the action names a response for it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from bot.actions.base import ActionHttp, ActionOutcome, ActionUnavailable, ActionUnreachable
from bot.actions.endpoints import expand_env
from bot.errors import ConfigError, DataError

log = logging.getLogger("botdesk.actions")
HTTP_ACTION_KEYS = (
    "url",
    "method",
    "headers",
    "params",
    "body",
    "requires",
    "missing",
    "slots",
    "response",
    "not_found",
    "error",
    "timeout",
)
PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w\-]*)\}")
MAX_ANSWER_BYTES = 256 * 1024
MAX_SLOT_VALUE_CHARS = 1000


@dataclass(frozen=True)
class HttpActionSpec:
    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    requires: tuple[str, ...] = ()
    missing: str | None = None
    slots: dict[str, str] = field(default_factory=dict)
    response: str | None = None
    not_found: str | None = None
    error: str | None = None  # None: hand off ("integration_unavailable")
    timeout: float = 5.0

    def responses(self) -> list[str]:
        return [r for r in (self.missing, self.response, self.not_found, self.error) if r]


def parse_http_action(name: str, spec: Any, path: Path, line: int | None) -> HttpActionSpec:
    if not isinstance(spec, dict) or not spec.get("url"):
        raise DataError(f"http action '{name}' needs a 'url'", path, line)
    for key in spec:
        if key not in HTTP_ACTION_KEYS:
            raise DataError(f"http action '{name}': unknown key '{key}'", path, line)
    try:
        spec = expand_env(spec, f"http action '{name}'")
    except ConfigError as exc:
        raise DataError(str(exc), path, line) from None
    url = str(spec["url"])
    if not url.startswith(("http://", "https://")):
        raise DataError(f"http action '{name}': url must start with http:// or https://", path, line)
    method = str(spec.get("method", "GET")).upper()
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        raise DataError(f"http action '{name}': unknown method {method}", path, line)
    slots = spec.get("slots") or {}
    if not isinstance(slots, dict):
        raise DataError(f"http action '{name}': 'slots' maps slot names to JSON paths", path, line)
    try:
        timeout = float(spec.get("timeout", 5.0))
    except (TypeError, ValueError):
        raise DataError(f"http action '{name}': timeout must be a number of seconds", path, line) from None
    if not 0 < timeout <= 60:
        raise DataError(f"http action '{name}': timeout must be between 0 and 60 seconds", path, line)
    requires = spec.get("requires") or []
    return HttpActionSpec(
        name=name,
        url=url,
        method=method,
        headers={str(k): str(v) for k, v in (spec.get("headers") or {}).items()},
        params={str(k): str(v) for k, v in (spec.get("params") or {}).items()},
        body=spec.get("body"),
        requires=tuple(str(s) for s in (requires if isinstance(requires, list) else [requires])),
        missing=spec.get("missing"),
        slots={str(k): str(v) for k, v in slots.items()},
        response=spec.get("response"),
        not_found=spec.get("not_found"),
        error=spec.get("error"),
        timeout=timeout,
    )


def _fill(template: str, slots: dict[str, Any], quoted: bool) -> str:
    def value(match: re.Match[str]) -> str:
        text = "" if slots.get(match.group(1)) is None else str(slots[match.group(1)])
        return quote(text, safe="") if quoted else text

    return PLACEHOLDER.sub(value, template)


def _fill_body(body: Any, slots: dict[str, Any]) -> Any:
    if isinstance(body, str):
        whole = PLACEHOLDER.fullmatch(body)
        return slots.get(whole.group(1)) if whole else _fill(body, slots, quoted=False)
    if isinstance(body, dict):
        return {k: _fill_body(v, slots) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill_body(v, slots) for v in body]
    return body


def json_path(document: Any, path: str) -> Any:
    """``delivery.eta`` / ``items.0.name`` in a JSON document; None where it is missing."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class HttpActions:
    """Runs the project's declarative HTTP actions."""

    def __init__(self, specs: dict[str, HttpActionSpec]) -> None:
        self.specs = dict(specs)
        self._http = ActionHttp()

    def handles(self, action: str) -> bool:
        return action in self.specs

    async def close(self) -> None:
        await self._http.close()

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionOutcome:
        spec = self.specs[action]
        slots = dict(tracker.get("slots") or {})
        if any(slots.get(name) in (None, "", []) for name in spec.requires):
            return ActionOutcome(responses=[{"response": spec.missing}] if spec.missing else [])
        url = _fill(spec.url, slots, quoted=True)
        params = {k: _fill(v, slots, quoted=False) for k, v in spec.params.items()}
        body = _fill_body(spec.body, slots) if spec.body is not None else None
        try:
            answer = await self._http.request(
                spec.method,
                url,
                params=params or None,
                headers=spec.headers,
                body=orjson.dumps(body) if body is not None else None,
                timeout=spec.timeout,
                limit=MAX_ANSWER_BYTES,
                read_body=lambda status: status < 300,
            )
        except TimeoutError:
            log.warning("http action %s: no answer in %.0f s", action, spec.timeout)
            return self._failed(spec, "timed out")
        except ActionUnreachable as exc:
            log.warning("http action %s: unreachable (%s)", action, exc)
            return self._failed(spec, "unreachable")
        except ActionUnavailable as exc:
            return self._failed(spec, str(exc))
        status, raw = answer.status, answer.body
        cleared = [{"event": "slot", "name": slot, "value": None} for slot in spec.slots]
        if status == 404 and spec.not_found:
            return ActionOutcome(cleared, [{"response": spec.not_found}])
        if status >= 300:
            log.warning("http action %s: HTTP %s", action, status)
            return self._failed(spec, f"HTTP {status}")
        try:
            document = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return self._failed(spec, "the answer is not JSON")
        events = []
        values: dict[str, Any] = {}
        for slot, path in spec.slots.items():
            value = json_path(document, path)
            if isinstance(value, str):
                value = value[:MAX_SLOT_VALUE_CHARS]
            elif isinstance(value, (dict, list)):
                value = None  # slots hold plain values; map the fields inside instead
            events.append({"event": "slot", "name": slot, "value": value})
            if value is not None:
                values[slot] = value
        # As with Rasa's dispatcher, a response is rendered before the action's events apply:
        # the new values travel with it as template values.
        responses = [{"response": spec.response, **values}] if spec.response else []
        return ActionOutcome(events, responses)

    def _failed(self, spec: HttpActionSpec, why: str) -> ActionOutcome:
        if spec.error:
            return ActionOutcome(responses=[{"response": spec.error}])
        raise ActionUnavailable(f"http action {spec.name}: {why}")
