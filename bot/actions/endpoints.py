"""``endpoints.yml``'s ``action_endpoint``, read the way Rasa reads it.

Rasa expands ``${VARIABLE}`` from the environment in every value (an unset variable is
an error naming it) and reads ``url``, ``params``, ``headers``, ``basic_auth``,
``token`` and ``token_name`` (the token travels as a query parameter, ``?token=...``).
botdesk adds ``timeout`` (seconds, default 10): Rasa waits five minutes for an action,
which a customer in a chat does not.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.yamlio import line_of, load_yaml, to_plain

ENDPOINTS_FILE = "endpoints.yml"
DEFAULT_TIMEOUT_SECONDS = 10.0
ENV_REFERENCE = re.compile(r"\$\{([^}:]+)(?::-([^}]*))?\}")
ENDPOINT_KEYS = ("url", "params", "headers", "basic_auth", "token", "token_name", "cafile", "timeout", "type")


@dataclass(frozen=True)
class EndpointConfig:
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    token: str | None = None
    token_name: str = "token"
    cafile: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def query(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.token:
            params[self.token_name] = self.token
        return params


def expand_env(value: Any, where: str) -> Any:
    """``${VAR}`` (and botdesk's ``${VAR:-default}``) from the environment, in nested values."""
    if isinstance(value, str):
        missing = [
            m.group(1)
            for m in ENV_REFERENCE.finditer(value)
            if m.group(1) not in os.environ and m.group(2) is None
        ]
        if missing:
            raise ConfigError(f"{where}: set the environment variable(s) {', '.join(sorted(set(missing)))}")
        return ENV_REFERENCE.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: expand_env(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, where) for v in value]
    return value


def read_action_endpoint(root: Path) -> EndpointConfig | None:
    """The project's ``action_endpoint`` (None when there is no endpoints.yml or no URL)."""
    path = root / ENDPOINTS_FILE
    if not path.is_file():
        return None
    raw = load_yaml(path, ConfigError)
    if not isinstance(raw, dict) or not raw.get("action_endpoint"):
        return None
    where = f"{path}:{line_of(raw, ['action_endpoint'])}"
    spec = expand_env(to_plain(raw["action_endpoint"]), where)
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: action_endpoint must be a mapping with 'url'")
    unknown = [k for k in spec if k not in ENDPOINT_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} in action_endpoint")
    url = spec.get("url")
    if not url:
        return None
    if not str(url).startswith(("http://", "https://")):
        raise ConfigError(f"{where}: action_endpoint url must start with http:// or https://")
    auth = spec.get("basic_auth")
    basic = (str(auth["username"]), str(auth["password"])) if isinstance(auth, dict) else None
    try:
        timeout = float(spec.get("timeout", DEFAULT_TIMEOUT_SECONDS))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: timeout must be a number of seconds") from None
    if not 0 < timeout <= 300:
        raise ConfigError(f"{where}: timeout must be between 0 and 300 seconds")
    return EndpointConfig(
        url=str(url),
        params=dict(spec.get("params") or {}),
        headers={str(k): str(v) for k, v in (spec.get("headers") or {}).items()},
        basic_auth=basic,
        token=str(spec["token"]) if spec.get("token") else None,
        token_name=str(spec.get("token_name") or "token"),
        cafile=spec.get("cafile"),
        timeout=timeout,
    )
