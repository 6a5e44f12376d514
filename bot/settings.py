"""config.yml: typed, validated at load, errors that name the file and the line.

Each component declares its own options model (see ``bot.nlu.registry``); this module
owns the top-level sections and turns pydantic's errors into one clear sentence.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import ConfigError, describe_input
from bot.hours import Department
from bot.yamlio import line_of, load_yaml, to_plain

CONFIG_FILE = "config.yml"
DATABASE_URL_ENV = "BOTDESK_DATABASE_URL"
REDIS_URL_ENV = "BOTDESK_REDIS_URL"
SECRET_KEY_PATTERN = re.compile(r"(token|password|passwd|secret|api_key)$", re.IGNORECASE)


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentSpec(BaseModel):
    """One ``- name: X`` item of ``pipeline``/``policies``; options are checked by its owner."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BotIdentity(StrictModel):
    name: str = "Бот-помощник"
    label: str = Field(default="🤖 Бот", description="Prefix that marks every bot message")
    introduction: str = (
        "Здравствуйте! Я бот-помощник магазина, отвечаю круглосуточно. "
        "Чтобы позвать человека, напишите «оператор»."
    )
    fallback: str = (
        "Извините, я не совсем понял вопрос. Переформулируйте, пожалуйста, "
        "или напишите «оператор», чтобы позвать человека."
    )


class IntentRoles(StrictModel):
    """What the dialogue needs to know about intents beyond their examples."""

    human_only: list[str] = Field(
        default_factory=list, description="Intents only a person can finish: always hand off"
    )
    buying_interest: list[str] = Field(
        default_factory=list, description="Intents after which the bot offers to leave a contact"
    )


DEFAULT_ESCALATION_RULES = [
    "complaint",
    "human_request",
    "human_only",
    "did_not_help",
    "two_stage_fallback",
    "misunderstood",
    "repeated_question",
]


class EscalationSettings(StrictModel):
    """When a person takes over; rules are checked in this order, the first match wins."""

    rules: list[ComponentSpec] = Field(
        default_factory=lambda: [ComponentSpec(name=n) for n in DEFAULT_ESCALATION_RULES]
    )
    queue_wait_minutes: float = Field(default=10, gt=0, description="Nobody claimed: offer a call-back")
    answer_timeout_minutes: float = Field(default=5, gt=0, description="Claimed, unanswered: back to queue")
    ask_feedback: bool = Field(
        default=True, description="Ask 'did this answer your question?' after FAQ answers"
    )
    average_handle_minutes: float = Field(default=3, gt=0, description="For 'about N minutes' in the queue")


class SurveySettings(StrictModel):
    """The satisfaction survey: "did this answer your question?" once per dialogue (docs/kpis.md)."""

    enabled: bool = Field(default=True, description="Ask at all (answers feed the CSAT KPI)")
    quiet_minutes: float = Field(
        default=10, gt=0, description="After a bot answer, ask once the customer has been quiet this long"
    )
    after_operator: bool = Field(default=True, description="Ask when an operator closes the dialogue")
    ask_score: bool = Field(default=True, description="After yes/no, offer an optional 1-5 score")
    answer_window_minutes: float = Field(
        default=60, gt=0, description="How long after asking an answer still counts"
    )


class KpiSettings(StrictModel):
    """How the KPIs count (docs/kpis.md)."""

    first_response_sla_seconds: float = Field(
        default=300, gt=0, description="A handoff not answered by a person within this is 'missed'"
    )
    timezone: str | None = Field(
        default=None, description="For load by hour and report dates; default: the first department's"
    )


class OperatorSettings(StrictModel):
    """What operators get in the panel and the shell."""

    quick_phrases: dict[str, str] = Field(
        default_factory=dict,
        description="Shortcut -> canned text, e.g. '/hi': 'Здравствуйте! Меня зовут ...'",
    )
    suggestions: int = Field(default=3, ge=0, le=10, description="Suggested answers from the NLU ranking")
    max_parallel: int = Field(
        default=5, ge=1, le=100, description="Dialogues one operator may hold at once (per-operator override)"
    )
    auto_assign: bool = Field(
        default=False,
        description="Give queued dialogues to online operators in turn instead of waiting for a claim",
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="How long a panel login lasts before logging in again"
    )


class CRMItem(BaseModel):
    """One ``crm`` entry: ``adapter: <name>`` plus that adapter's options (checked by handoff.crm)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    adapter: str

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PrivacySettings(StrictModel):
    """Personal data: how long conversations are kept (docs/security.md)."""

    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Delete conversations (and their messages) inactive this long; null: keep them",
    )
    purge_every_minutes: float = Field(
        default=60, gt=0, le=1440, description="How often the server looks for expired conversations"
    )


class ServerSettings(StrictModel):
    """What one client can make ``botdesk run``'s HTTP server hold: bodies, time, connections.

    Each limit is enforced by botdesk itself (``bot.server.request_guard``: body sizes;
    ``bot.server.connection_guard``: time, heads, connections), so the server protects
    itself with no reverse proxy in front; docs/security.md lists them and their tests.
    """

    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=1024**3,
        description="A request body's limit on every route without one of its own (413 when over)",
    )
    body_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Per path prefix, e.g. {'/api/uploads': 20971520}; the longest matching prefix wins",
    )
    body_timeout_seconds: float = Field(
        default=30, gt=0, le=3600, description="Longest pause inside a request body (408 and closed)"
    )
    header_timeout_seconds: float = Field(
        default=10, gt=0, le=600, description="A request's line and headers must arrive within this"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=4096, le=1024 * 1024, description="Request line and headers (431 when over)"
    )
    keep_alive_seconds: float = Field(
        default=5, gt=0, le=600, description="An idle keep-alive connection is closed after this"
    )
    max_connections: int = Field(
        default=2048, ge=1, le=1_000_000, description="Open connections (WebSockets included) at once"
    )
    websocket_max_bytes: int = Field(
        default=128 * 1024, ge=1024, le=64 * 1024 * 1024, description="One WebSocket message (1009 when over)"
    )

    @field_validator("body_limits")
    @classmethod
    def _prefixes(cls, value: dict[str, int]) -> dict[str, int]:
        for prefix, limit in value.items():
            if not prefix.startswith("/"):
                raise ValueError(f"a body limit's key is a path prefix starting with '/', got {prefix!r}")
            if not 0 <= limit <= 1024**3:
                raise ValueError(f"the body limit for {prefix} must be 0 to 1 GiB in bytes")
        return value


class StorageSettings(StrictModel):
    url: str = "sqlite:///botdesk.db"

    @field_validator("url")
    @classmethod
    def _no_password_in_file(cls, value: str) -> str:
        if re.match(r"^[a-z0-9+]+://[^/@:]*:[^/@]+@", value):
            raise ValueError(
                f"a database password does not belong in config.yml; "
                f"set the whole URL in the {DATABASE_URL_ENV} environment variable"
            )
        return value


class EditorSettings(StrictModel):
    """The editor pages: inbox grouping, candidate answers and the evaluation gate."""

    max_regression: float = Field(
        default=0.01, ge=0.0, le=1.0, description="Accuracy a new model may lose before publishing is refused"
    )
    gate_folds: int = Field(default=3, ge=2, le=10, description="Cross-validation folds of the gate")
    cluster_similarity: float = Field(
        default=0.45, gt=0.0, lt=1.0, description="Cosine similarity at which inbox messages group"
    )
    answer_similarity: float = Field(
        default=0.8, gt=0.0, le=1.0, description="Operator answer vs FAQ answer: 'the bot could answer'"
    )
    inbox_days: int = Field(default=30, ge=1, le=3650, description="How far back the inbox looks by default")
    out_of_scope_intent: str = Field(default="out_of_scope", pattern=r"^[\w\-]+$", max_length=100)


class EmailSettings(StrictModel):
    """SMTP for transcripts by email; the login comes only from BOTDESK_SMTP_USERNAME/_PASSWORD."""

    host: str | None = Field(default=None, description="None: email is off")
    port: int = Field(default=587, ge=1, le=65535)
    sender: str | None = Field(default=None, description="From: address, e.g. shop@example.com")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS (port 587)")
    use_tls: bool = Field(default=False, description="TLS from the first byte (port 465)")
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    subject: str | None = Field(
        default=None, min_length=1, max_length=200, description="Of the transcript email; default by language"
    )
    per_conversation_per_hour: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.host is not None and not self.sender:
            raise ValueError("email.sender (the From: address) is required when email.host is set")
        if self.starttls and self.use_tls:
            raise ValueError("email: choose starttls (port 587) or use_tls (port 465), not both")
        return self


class EventsSettings(StrictModel):
    """How live panel events reach operators connected to other server processes (docs/deploy.md)."""

    backend: Literal["memory", "redis", "postgres"] = Field(
        default="memory",
        description="memory: one process; redis: Redis pub/sub; postgres: LISTEN/NOTIFY on the database",
    )
    url: str | None = Field(
        default=None,
        description=f"redis://host:6379/0 (${REDIS_URL_ENV} overrides it and selects redis); "
        "for postgres, default: the database's URL",
    )
    channel: str | None = Field(
        default=None, min_length=1, max_length=200, description="Default: botdesk:<assistant_id>"
    )

    def redis_url(self) -> str | None:
        """The Redis broker's URL, or None for in-process events (or PostgreSQL's) only."""
        if self.backend == "postgres":
            return None
        url = os.environ.get(REDIS_URL_ENV) or self.url
        if self.backend == "memory" and not os.environ.get(REDIS_URL_ENV):
            return None
        return url or "redis://127.0.0.1:6379/0"


DEFAULT_FILE_TYPES = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "application/pdf",
    "text/plain",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "audio/ogg",
    "audio/mpeg",
    "video/mp4",
    "video/webm",
]
NEVER_STORED_TYPES = frozenset(
    {"text/html", "image/svg+xml", "text/xml", "application/xml", "application/x-executable"}
)


class FileStorageSpec(BaseModel):
    """``files.storage``: ``backend: <name>`` plus that backend's options (checked by ``bot.files``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str = "local"

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class FilesSettings(StrictModel):
    """Attachments (docs/security.md, "Files"): where they are kept, how large, which types."""

    max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=1024**3, description="Largest file accepted, in bytes"
    )
    allowed_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FILE_TYPES),
        description="Types accepted, as sniffed from the content (never the client's word)",
    )
    storage: FileStorageSpec = Field(default_factory=FileStorageSpec)

    @field_validator("allowed_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        for mime in value:
            if mime in NEVER_STORED_TYPES:
                raise ValueError(f"{mime} is never accepted: a browser would run it")
            if not re.match(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$", mime):
                raise ValueError(f"expected a media type like image/png, got {mime!r}")
        return value


class BotdeskConfig(StrictModel):
    """The whole of config.yml."""

    version: str | None = Field(default=None, description="Rasa-style format version, optional")
    assistant_id: str = "botdesk"
    language: Literal["ru", "en"] = "ru"
    pipeline: list[ComponentSpec] = Field(min_length=1)
    policies: list[ComponentSpec] = Field(default_factory=list)
    bot: BotIdentity = Field(default_factory=BotIdentity)
    intents: IntentRoles = Field(default_factory=IntentRoles)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    departments: list[Department] = Field(
        default_factory=lambda: [Department(key="support", name="Support")], min_length=1
    )
    storage: StorageSettings = Field(default_factory=StorageSettings)
    crm: list[CRMItem] = Field(default_factory=list, description="Where lead cards go (outbox, retried)")
    operators: OperatorSettings = Field(default_factory=OperatorSettings)
    channels: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict,
        description="Each channel's options by name (rest, web, telegram, ...): docs/channels/",
    )
    email: EmailSettings = Field(default_factory=EmailSettings)
    editor: EditorSettings = Field(default_factory=EditorSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)
    kpis: KpiSettings = Field(default_factory=KpiSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    files: FilesSettings = Field(default_factory=FilesSettings)

    @model_validator(mode="before")
    @classmethod
    def _widget_is_the_web_channel(cls, data: Any) -> Any:
        """``widget:`` at the top is the web chat's section, as ``channels.web`` is (one of the two)."""
        if not isinstance(data, dict) or "widget" not in data:
            return data
        data = dict(data)
        widget = data.pop("widget")
        channels = dict(data.get("channels") or {})
        if "web" in channels:
            raise ValueError("the web chat is configured twice, in 'widget' and in 'channels.web': keep one")
        channels["web"] = widget
        data["channels"] = channels
        return data

    def database_url(self) -> str:
        return os.environ.get(DATABASE_URL_ENV) or self.storage.url


def load_config(path: Path) -> BotdeskConfig:
    """Load and validate config.yml's own sections.

    The items that name a plugin (pipeline components, escalation rules, CRM adapters) are
    checked by their registries when the project is opened (``bot.project.check_plugins``):
    this module sits below them all.
    """
    raw = load_yaml(path, ConfigError)
    if raw is None:
        raise ConfigError("the file is empty; expected a mapping with at least 'pipeline'", path)
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of settings at the top, got {type(raw).__name__}", path, 1)
    _refuse_inline_secrets(raw, path, ())
    try:
        config = BotdeskConfig.model_validate(to_plain(raw))
    except ValidationError as exc:
        raise _explain(exc, raw, path) from None

    keys = [d.key for d in config.departments]
    if len(set(keys)) != len(keys):
        raise ConfigError("departments: each key must be unique", path, line_of(raw, ["departments"]))
    return config


def _refuse_inline_secrets(node: Any, path: Path, location: tuple[str | int, ...]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*location, key)
            if isinstance(key, str) and SECRET_KEY_PATTERN.search(key) and isinstance(value, str):
                raise ConfigError(
                    f"'{key}' looks like a secret; secrets come only from environment "
                    f"variables (name the variable with '{key}_env: VARIABLE')",
                    path,
                    line_of_node(node, key),
                )
            _refuse_inline_secrets(value, path, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _refuse_inline_secrets(value, path, (*location, index))


def line_of_node(node: Any, key: str) -> int | None:
    return line_of(node, [key])


def _explain(exc: ValidationError, raw: Any, path: Path) -> ConfigError:
    """Turn the first pydantic error into a sentence a person can act on."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    where = ".".join(str(part) for part in loc) or "(top level)"
    line = line_of(raw, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _field_names_at(BotdeskConfig, loc[:-1])
        hint = difflib.get_close_matches(key, allowed, n=1)
        parent = ".".join(str(p) for p in loc[:-1]) or "the top level"
        message = f"unknown key '{key}' in {parent}"
        message += f"; did you mean '{hint[0]}'?" if hint else f"; expected one of: {', '.join(allowed)}"
        return ConfigError(message, path, line)
    if kind == "missing":
        return ConfigError(f"'{where}' is required but missing", path, line)
    return ConfigError(f"{where}: {error['msg']} (got {describe_input(error.get('input'))})", path, line)


def _field_names_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _unwrap(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is not None:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if not args:
            return annotation
        annotation = args[-1]
    return annotation
