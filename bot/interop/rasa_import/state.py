"""What has been read of the Rasa project so far, in botdesk's shapes, plus names every step shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.interop.rasa_import.notes import Reporter

YAML_SUFFIXES = (".yml", ".yaml")
DEFAULT_RESPONSE = "utter_default"
TWO_STAGE_FALLBACK = "action_two_stage_fallback"
RASA_DEFAULT_ACTIONS = frozenset(
    {
        "action_session_start",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_back",
        "action_unlikely_intent",
        "action_extract_slots",
    }
)

Where = tuple[Path, int | None]


@dataclass
class Settings:
    language: str = "en"
    assistant_id: str = "botdesk"
    fallback: dict[str, float] = field(default_factory=dict)
    two_stage_fallback: bool = False  # a rule runs action_two_stage_fallback on nlu_fallback


@dataclass
class Flows:
    rules: list[dict[str, Any]] = field(default_factory=list)
    stories: list[dict[str, Any]] = field(default_factory=list)


class Conversion(Reporter):
    """One Rasa project being read into botdesk's shapes; notes are collected on the way."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.settings = Settings()
        self.nlu_files: dict[str, list[dict[str, Any]]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.response_lines: dict[str, Where] = {}
        self.entities: list[str] = []
        self.domain_intents: dict[str, Where] = {}
        self.slots: dict[str, dict[str, Any]] = {}
        self.slot_lines: dict[str, Where] = {}
        self.forms: dict[str, dict[str, Any]] = {}
        self.form_lines: dict[str, Where] = {}
        self.custom_actions: set[str] = set()
        self.custom_action_lines: dict[str, Where] = {}
        self.retrieval: dict[str, str] = {}  # "chitchat/ask_name" -> itself (kept for lookups)
        self.retrieval_lines: dict[str, Where] = {}
        self.flow_files: dict[str, Flows] = {}
        self.test_files: dict[str, list[dict[str, Any]]] = {}
        self.intents: set[str] = set()
        self.declared_intents: list[str] = []  # domain intents without NLU examples (payloads only)
        self.trigger_rules: list[dict[str, Any]] = []  # intents' ``triggers:``, as rules
        self.endpoint: dict[str, Any] | None = None  # endpoints.yml's action_endpoint, as written
        self.uses_default = False


def response_name(name: str) -> str:
    """Response names carry over as they are (``utter_chitchat/ask_name`` included)."""
    return name


def unique(stem: str, taken: dict[str, Any], reserved: tuple[str, ...]) -> str:
    """A file stem not used yet: ``rules``, ``rules_2``, ..."""
    candidate, number = stem, 2
    while candidate in taken or candidate in reserved:
        candidate, number = f"{stem}_{number}", number + 1
    return candidate
