"""Turn a Rasa 3 project into a botdesk project, and say what did not carry over.

botdesk reads Rasa's file formats, but a Rasa project is more than its files: custom
actions are Python on an action server, TEDPolicy generalises stories by machine
learning, the NLU pipeline is Rasa's own. The import keeps what botdesk runs as it is,
translates what has an equivalent (``or`` steps become one flow per alternative,
``utter_ask_<form>_<slot>`` becomes ``utter_ask_<slot>``) and reports everything else
as a :class:`Note` naming the Rasa file and line, so nothing is lost silently. The
written project is loaded back (config, data, flows, test stories) before the import
counts as done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.dialogue.engine import LEAD_FORM
from bot.dialogue.test_stories import load_test_stories
from bot.errors import ConfigError, DataError, SourceError
from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.data import ANNOTATION, MAX_EXAMPLE_CHARS, parse_annotations
from bot.nlu.defaults import DEFAULT_PIPELINE
from bot.project import Project
from bot.yamlio import line_of, load_yaml, to_plain

RASA_FORMAT = "3.1"
LANGUAGES = ("ru", "en")
YAML_SUFFIXES = (".yml", ".yaml")
MAX_OR_EXPANSION = 16
REQUESTED_SLOT = "requested_slot"
DEFAULT_RESPONSE = "utter_default"

# Rasa components whose job botdesk's default pipeline does (intents, regex/lookup
# entities, synonyms, fallback); anything else has no botdesk equivalent.
EQUIVALENT_COMPONENTS = frozenset(
    {
        "WhitespaceTokenizer",
        "SpacyNLP",
        "SpacyTokenizer",
        "RegexFeaturizer",
        "RegexEntityExtractor",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "SklearnIntentClassifier",
        "LogisticRegressionClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    }
)
RULE_POLICIES = frozenset({"RulePolicy", "MemoizationPolicy", "AugmentedMemoizationPolicy"})
ML_POLICIES = frozenset({"TEDPolicy", "UnexpecTEDIntentPolicy"})
RULE_POLICY_FALLBACK_KEYS = (
    "core_fallback_threshold",
    "core_fallback_action_name",
    "enable_fallback_prediction",
)
# Rasa's fallback when config.yml has a pipeline with no FallbackClassifier options.
RASA_FALLBACK_DEFAULTS = {"threshold": 0.3, "ambiguity_threshold": 0.1}

BOTDESK_ACTIONS = frozenset({"action_listen", "action_restart"})  # bot.project.BUILTIN_ACTIONS
RASA_DEFAULT_ACTIONS = frozenset(
    {
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_back",
        "action_unlikely_intent",
        "action_extract_slots",
    }
)
SLOT_TYPES = ("text", "bool", "categorical", "float", "any", "list")
SLOT_KEYS = ("type", "values", "mappings", "initial_value", "influence_conversation")
MAPPING_TYPES = ("from_entity", "from_text", "from_intent", "custom")
PAYLOAD = re.compile(r"^/(?P<intent>[^\s{}]+)(?P<entities>\{.*\})?\s*$", re.DOTALL)

# Texts botdesk's own dialogue says (handing off, forms); added when the domain lacks them.
SYSTEM_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "utter_handoff_queued": "I'm passing your question to an operator: a person will join this "
        "chat as soon as one is free.",
        "utter_after_hours": "Our operators are off right now; they will answer {opening}.",
        "utter_offer_declined": "Sure! If anything else comes up, just write.",
        "utter_form_gave_up": "Let's leave it for now; write again whenever you like.",
    },
    "ru": {
        "utter_handoff_queued": "Передаю ваш вопрос оператору: человек подключится к чату, "
        "как только освободится.",
        "utter_after_hours": "Операторы сейчас не работают; они ответят {opening}.",
        "utter_offer_declined": "Хорошо! Если появятся вопросы, пишите.",
        "utter_form_gave_up": "Давайте пока оставим это; напишите, когда будет удобно.",
    },
}
IDENTITY: dict[str, dict[str, str]] = {
    "en": {
        "name": "Bot",
        "label": "🤖 Bot",
        "introduction": "Hello! I am a bot and I answer around the clock. "
        'To reach a person, type "operator".',
        "fallback": 'Sorry, I did not quite get that. Could you rephrase it, or type "operator" '
        "and I will call a person.",
        "department": "Support",
        "timezone": "UTC",
    },
    "ru": {
        "name": "Бот-помощник",
        "label": "🤖 Бот",
        "introduction": "Здравствуйте! Я бот-помощник, отвечаю круглосуточно. "
        "Чтобы позвать человека, напишите «оператор».",
        "fallback": "Извините, я не совсем понял вопрос. Переформулируйте, пожалуйста, "
        "или напишите «оператор», чтобы позвать человека.",
        "department": "Поддержка",
        "timezone": "Europe/Moscow",
    },
}

NoteKind = Literal["dropped", "changed"]


@dataclass(frozen=True)
class Note:
    """One thing the import could not carry over ("dropped") or carried over differently."""

    kind: NoteKind
    message: str
    source: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ImportResult:
    target: Path
    files: list[Path]
    notes: list[Note]


class _Drop(Exception):
    """This rule, story or test story cannot be carried over; the message says why."""


@dataclass
class _Settings:
    language: str = "en"
    assistant_id: str = "botdesk"
    fallback: dict[str, float] = field(default_factory=dict)


@dataclass
class _Flows:
    rules: list[dict[str, Any]] = field(default_factory=list)
    stories: list[dict[str, Any]] = field(default_factory=list)


class _Conversion:
    """Reads one Rasa project into botdesk's shapes, collecting notes on the way."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.notes: list[Note] = []
        self.settings = _Settings()
        self.nlu_files: dict[str, list[dict[str, Any]]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.response_lines: dict[str, tuple[Path, int | None]] = {}
        self.entities: list[str] = []
        self.domain_intents: dict[str, tuple[Path, int | None]] = {}
        self.slots: dict[str, dict[str, Any]] = {}
        self.slot_lines: dict[str, tuple[Path, int | None]] = {}
        self.forms: dict[str, dict[str, Any]] = {}
        self.form_lines: dict[str, tuple[Path, int | None]] = {}
        self.custom_actions: set[str] = set()
        self.retrieval: dict[str, str] = {}  # "chitchat/ask_name" -> "chitchat_ask_name"
        self.retrieval_lines: dict[str, tuple[Path, int | None]] = {}
        self.flow_files: dict[str, _Flows] = {}
        self.test_files: dict[str, list[dict[str, Any]]] = {}
        self.intents: set[str] = set()
        self.uses_default = False

    # ---- notes -------------------------------------------------------------------------
    def note(self, kind: NoteKind, message: str, path: Path | None = None, line: int | None = None) -> None:
        source = ""
        if path is not None:
            source = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        self.notes.append(Note(kind, message, source, line))

    # ---- config.yml --------------------------------------------------------------------
    def read_config(self) -> None:
        path = self.root / "config.yml"
        raw = load_yaml(path, ConfigError) if path.is_file() else None
        if not isinstance(raw, dict):
            self.note("changed", "no config.yml: language 'en' and botdesk's default pipeline are used")
            raw = {}
        language = str(raw.get("language") or "en")
        if language not in LANGUAGES:
            self.note(
                "changed",
                f"language '{language}' is not one botdesk speaks ({', '.join(LANGUAGES)}); "
                "the project uses 'en'",
                path,
                line_of(raw, ["language"]),
            )
            language = "en"
        self.settings.language = language
        assistant = str(raw.get("assistant_id") or "")
        self.settings.assistant_id = (
            assistant if assistant and assistant != "placeholder_default" else _slug(self.root.name)
        )
        self._read_pipeline(raw, path)
        self._read_policies(raw, path)

    def _read_pipeline(self, raw: Any, path: Path) -> None:
        pipeline = raw.get("pipeline") or []
        if not pipeline:
            self.note(
                "changed",
                "no NLU pipeline configured (Rasa trains its default DIET pipeline): the project uses "
                "botdesk's default pipeline",
                path,
                line_of(raw, ["pipeline"]),
            )
            return
        fallback: dict[str, float] | None = None
        for index, spec in enumerate(pipeline):
            name = str(spec.get("name", "")) if isinstance(spec, dict) else str(spec)
            line = line_of(raw, ["pipeline", index])
            if name == "FallbackClassifier":
                options = {**RASA_FALLBACK_DEFAULTS, **{k: v for k, v in spec.items() if k != "name"}}
                fallback = {k: float(options[k]) for k in RASA_FALLBACK_DEFAULTS}
            elif name == "DIETClassifier":
                self.note(
                    "changed",
                    "DIETClassifier: botdesk classifies intents with LinearIntentClassifier and finds "
                    "entities by their annotated values, lookups and regexes, not learned from context",
                    path,
                    line,
                )
            elif name == "ResponseSelector":
                self.note(
                    "changed",
                    "ResponseSelector: each retrieval intent (faq/question) becomes an intent of its own "
                    "answered by its own response",
                    path,
                    line,
                )
            elif name not in EQUIVALENT_COMPONENTS:
                self.note(
                    "dropped",
                    f"Rasa-only pipeline component {name} has no botdesk equivalent and was left out",
                    path,
                    line,
                )
        if fallback is None:
            self.note(
                "changed",
                "the pipeline has no FallbackClassifier (Rasa never falls back): botdesk's default "
                "fallback thresholds are used",
                path,
                line_of(raw, ["pipeline"]),
            )
        else:
            self.settings.fallback = fallback
        self.note(
            "changed",
            "the NLU pipeline is botdesk's default (SpacyTokenizer, RegexEntityExtractor, "
            "CountVectorsFeaturizer word + char_wb, LinearIntentClassifier, EntitySynonymMapper, "
            "FallbackClassifier)",
            path,
            line_of(raw, ["pipeline"]),
        )

    def _read_policies(self, raw: Any, path: Path) -> None:
        policies = raw.get("policies") or []
        if not policies:
            self.note(
                "dropped",
                "no policies configured, so Rasa trains its defaults, among them the machine-learned "
                "TEDPolicy and UnexpecTEDIntentPolicy: botdesk follows rules and stories exactly as "
                "written and otherwise answers an intent with utter_<intent>; it does not generalise "
                "stories to conversations they do not cover",
                path,
                line_of(raw, ["policies"]),
            )
            return
        for index, spec in enumerate(policies):
            name = str(spec.get("name", "")) if isinstance(spec, dict) else str(spec)
            line = line_of(raw, ["policies", index])
            if name in ML_POLICIES:
                self.note(
                    "dropped",
                    f"{name} is machine-learned: botdesk follows rules and stories exactly as written and "
                    "otherwise answers an intent with utter_<intent>; it does not generalise stories to "
                    "conversations they do not cover",
                    path,
                    line,
                )
            elif name not in RULE_POLICIES:
                self.note("dropped", f"policy {name} has no botdesk equivalent and was left out", path, line)
            elif isinstance(spec, dict) and any(k in spec for k in RULE_POLICY_FALLBACK_KEYS):
                self.note(
                    "changed",
                    f"{name}'s core fallback settings were left out: botdesk answers what no rule or "
                    "story covers with utter_<intent>, and a message it does not understand with "
                    "bot.fallback",
                    path,
                    line,
                )

    # ---- domain ------------------------------------------------------------------------
    def read_domain(self) -> None:
        files = _domain_files(self.root)
        if not files:
            self.note("changed", "no domain.yml or domain/: responses, slots and forms come from data files")
        for path in files:
            raw = load_yaml(path, DataError)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                raise DataError("expected a mapping (intents:, responses:, slots:, ...)", path, 1)
            self._domain_intents(raw, path)
            self._domain_entities(raw, path)
            self.read_responses(raw.get("responses"), path)
            for name, spec in (raw.get("slots") or {}).items():
                self._slot(str(name), spec, path, line_of(raw, ["slots", name]))
            for name, spec in (raw.get("forms") or {}).items():
                self._form(str(name), spec, path, line_of(raw, ["forms", name]))
            for index, action in enumerate(raw.get("actions") or []):
                self._declared_action(str(action), path, line_of(raw, ["actions", index]))
            if raw.get("e2e_actions"):
                self.note(
                    "dropped",
                    "e2e_actions (end-to-end bot texts) are not supported",
                    path,
                    line_of(raw, ["e2e_actions"]),
                )

    def _domain_intents(self, raw: Any, path: Path) -> None:
        for index, entry in enumerate(raw.get("intents") or []):
            line = line_of(raw, ["intents", index])
            name, spec = _named(entry)
            self.domain_intents[name] = (path, line)
            if isinstance(spec, dict) and spec.get("triggers"):
                self.note(
                    "dropped",
                    f"intent '{name}' triggers action {spec['triggers']}; botdesk has no intent triggers "
                    "(write a rule instead)",
                    path,
                    line,
                )

    def _domain_entities(self, raw: Any, path: Path) -> None:
        for index, entry in enumerate(raw.get("entities") or []):
            name, spec = _named(entry)
            if name not in self.entities:
                self.entities.append(name)
            if isinstance(spec, dict) and (spec.get("roles") or spec.get("groups")):
                self.note(
                    "dropped",
                    f"entity '{name}': roles and groups are not supported; the plain entity is kept",
                    path,
                    line_of(raw, ["entities", index]),
                )

    def read_responses(self, responses: Any, path: Path) -> None:
        for name, variants in (responses or {}).items():
            line = line_of(responses, [name])
            target = self._response_name(str(name))
            if not target.startswith("utter_"):
                self.note("dropped", f"response '{name}' is not named utter_<something>", path, line)
                continue
            kept = self._variants(target, to_plain(variants), path, line)
            if kept:
                self.responses[target] = kept
                self.response_lines[target] = (path, line)

    def _response_name(self, name: str) -> str:
        if name.startswith("utter_") and "/" in name:
            return "utter_" + name[len("utter_") :].replace("/", "_")
        return name

    def _variants(self, name: str, variants: Any, path: Path, line: int | None) -> list[dict[str, Any]]:
        if not isinstance(variants, list) or not variants:
            self.note("dropped", f"response '{name}' has no variants", path, line)
            return []
        plain = [v for v in variants if isinstance(v, dict)]
        special = [v for v in plain if "condition" in v or "channel" in v]
        if special:
            keep_special = len(special) == len(plain)
            self.note(
                "changed" if keep_special else "dropped",
                f"response '{name}': botdesk has no conditional or channel-specific variants; "
                + (
                    "they are kept without their condition/channel and said at random"
                    if keep_special
                    else f"{len(special)} such variant(s) left out"
                ),
                path,
                line,
            )
            if not keep_special:
                plain = [v for v in plain if v not in special]
        result = []
        for variant in plain:
            clean = {k: v for k, v in variant.items() if k not in ("condition", "channel")}
            if not any(k in clean for k in ("text", "image", "custom", "buttons")):
                self.note("dropped", f"response '{name}': a variant without text was left out", path, line)
                continue
            unshown = sorted(k for k in clean if k not in ("text", "buttons", "id", "metadata"))
            if unshown:
                self.note(
                    "changed",
                    f"response '{name}': {', '.join(unshown)} kept in the file, but botdesk's chat shows "
                    "only text and buttons",
                    path,
                    line,
                )
            if isinstance(clean.get("buttons"), list):
                clean["buttons"] = [self._button(b, name, path, line) for b in clean["buttons"]]
            result.append(clean)
        return result

    def _button(self, button: Any, name: str, path: Path, line: int | None) -> Any:
        if not isinstance(button, dict) or not isinstance(button.get("payload"), str):
            return button
        match = PAYLOAD.match(button["payload"])
        if match is None:
            return button
        intent = self.retrieval.get(match.group("intent"), match.group("intent"))
        if match.group("entities"):
            self.note(
                "dropped",
                f"response '{name}': button payload {button['payload']} sets entities; botdesk payloads "
                f"carry only the intent (/{intent})",
                path,
                line,
            )
        return {**button, "payload": f"/{intent}"}

    def _slot(self, name: str, spec: Any, path: Path, line: int | None) -> None:
        spec = to_plain(spec) or {}
        if not isinstance(spec, dict):
            self.note("dropped", f"slot '{name}' is not a mapping and was left out", path, line)
            return
        result: dict[str, Any] = {}
        slot_type = str(spec.get("type", "any"))
        if slot_type not in SLOT_TYPES:
            self.note("changed", f"slot '{name}': type {slot_type} became 'any'", path, line)
            slot_type = "any"
        result["type"] = slot_type
        extra = sorted(k for k in spec if k not in SLOT_KEYS)
        if extra:
            self.note("dropped", f"slot '{name}': {', '.join(extra)} not supported, left out", path, line)
        for key in ("values", "initial_value", "influence_conversation"):
            if key in spec:
                result[key] = spec[key]
        mappings: list[dict[str, Any]] = []
        for mapping in spec.get("mappings") or []:
            mappings += self._mapping(name, mapping, path, line)
        result["mappings"] = mappings
        self.slots[name] = result
        self.slot_lines[name] = (path, line)

    def _mapping(self, slot: str, mapping: Any, path: Path, line: int | None) -> list[dict[str, Any]]:
        if not isinstance(mapping, dict):
            return []
        kind = str(mapping.get("type", ""))
        if kind not in MAPPING_TYPES:
            self.note("dropped", f"slot '{slot}': {kind} mapping is not supported, left out", path, line)
            return []
        base: dict[str, Any] = {"type": kind}
        if mapping.get("entity"):
            base["entity"] = str(mapping["entity"])
        if "value" in mapping:
            base["value"] = mapping["value"]
        if mapping.get("not_intent"):
            base["not_intent"] = _as_list(mapping["not_intent"])
        if mapping.get("role") or mapping.get("group"):
            self.note("dropped", f"slot '{slot}': entity role/group in a mapping ignored", path, line)
        if kind == "custom":
            self.note(
                "dropped",
                f"slot '{slot}': custom mapping"
                + (f" (action {mapping['action']})" if mapping.get("action") else "")
                + " is filled by Rasa's action server; botdesk never fills it",
                path,
                line,
            )
        intents = _as_list(mapping.get("intent")) if mapping.get("intent") else []
        if kind == "from_intent":
            return [{**base, "intent": intent} for intent in intents] or [base]
        if intents:
            self.note(
                "changed",
                f"slot '{slot}': the {kind} mapping's intent restriction ({', '.join(intents)}) is ignored",
                path,
                line,
            )
        return [base]

    def _form(self, name: str, spec: Any, path: Path, line: int | None) -> None:
        spec = to_plain(spec) or {}
        required = spec.get("required_slots") if isinstance(spec, dict) else None
        if isinstance(required, dict):  # Rasa 2: slot -> mappings
            self.note("changed", f"form '{name}': Rasa 2 required_slots mappings left out", path, line)
            required = list(required)
        if not isinstance(required, list) or not required:
            self.note("dropped", f"form '{name}' has no required_slots and was left out", path, line)
            return
        if spec.get("ignored_intents"):
            self.note("dropped", f"form '{name}': ignored_intents is not supported", path, line)
        self.forms[name] = {"required_slots": [str(s) for s in required]}
        self.form_lines[name] = (path, line)

    def _declared_action(self, name: str, path: Path, line: int | None) -> None:
        if name in BOTDESK_ACTIONS or name in RASA_DEFAULT_ACTIONS or name.startswith("utter_"):
            return
        self.custom_actions.add(name)
        hint = " (form validation: botdesk validates slots by name, see bot/dialogue/validators.py)"
        self.note(
            "dropped",
            f"custom action {name} is Python code run by Rasa's action server; botdesk cannot run it"
            + (hint if name.startswith("validate_") else ""),
            path,
            line,
        )

    # ---- training data -----------------------------------------------------------------
    def read_data(self) -> list[tuple[Path, Any]]:
        """NLU items and responses now; flows are returned for later (they check the NLU)."""
        flows: list[tuple[Path, Any]] = []
        for path in _data_files(self.root):
            if path.suffix not in YAML_SUFFIXES:
                self.note(
                    "dropped",
                    f"{path.suffix} training data is not read; convert it first "
                    "(rasa data convert nlu -f yaml)",
                    path,
                )
                continue
            raw = load_yaml(path, DataError)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                raise DataError("expected a mapping with nlu:, rules: or stories:", path, 1)
            if path.name.startswith("test_"):
                self._read_tests_file(path, raw)
                continue
            self.read_responses(raw.get("responses"), path)
            if raw.get("nlu"):
                self._read_nlu(path, raw)
            if raw.get("rules") or raw.get("stories"):
                flows.append((path, raw))
            unknown = [k for k in raw if k not in ("version", "nlu", "rules", "stories", "responses")]
            for key in unknown:
                self.note("dropped", f"unknown top-level key '{key}' left out", path, line_of(raw, [key]))
        self._intents_without_examples()
        return flows

    def _read_nlu(self, path: Path, raw: Any) -> None:
        items: list[dict[str, Any]] = []
        for index, item in enumerate(raw["nlu"]):
            line = line_of(raw, ["nlu", index])
            converted = self._nlu_item(item, path, line)
            if converted is not None:
                items.append(converted)
        if items:
            self.nlu_files[_unique(path.stem, self.nlu_files, ("responses", "botdesk"))] = items

    def _nlu_item(self, item: Any, path: Path, line: int | None) -> dict[str, Any] | None:
        kinds = [k for k in ("intent", "synonym", "regex", "lookup") if isinstance(item, dict) and k in item]
        if len(kinds) != 1:
            self.note(
                "dropped", "an nlu item that is not one intent/synonym/regex/lookup left out", path, line
            )
            return None
        kind = kinds[0]
        name = str(item[kind])
        if kind == "intent" and "/" in name:
            self.retrieval[name] = name.replace("/", "_")
            self.retrieval_lines.setdefault(name.split("/", 1)[0], (path, line))
            name = self.retrieval[name]
        lines: list[str] = []
        for text, ex_line in _example_lines(item.get("examples"), line_of(item, ["examples"])):
            converted = self._example(text, kind, path, ex_line)
            if converted is not None:
                lines.append(converted)
        if not lines:
            self.note("dropped", f"{kind} '{name}' has no usable examples and was left out", path, line)
            return None
        if kind == "intent":
            self.intents.add(name)
        return {kind: name, "examples": LiteralScalarString("".join(f"- {x}\n" for x in lines))}

    def _example(self, text: str, kind: str, path: Path, line: int | None) -> str | None:
        if len(text) > MAX_EXAMPLE_CHARS:
            self.note("dropped", f"example longer than {MAX_EXAMPLE_CHARS} characters left out", path, line)
            return None
        if kind == "regex":
            try:
                re.compile(text)
            except re.error as exc:
                self.note("dropped", f"regex {text!r} is not a valid pattern ({exc})", path, line)
                return None
            return text
        if kind != "intent":
            return text
        converted, dropped = _convert_annotations(text)
        for what in dropped:
            self.note("dropped", f"{what} dropped: botdesk has no entity roles or groups", path, line)
        try:
            parse_annotations(converted)
        except DataError as exc:
            self.note("dropped", f"example left out: {exc.message}", path, line)
            return None
        return converted

    def _intents_without_examples(self) -> None:
        bases = set(self.retrieval_lines)
        for base, (path, line) in self.retrieval_lines.items():
            split = sorted(v for k, v in self.retrieval.items() if k.startswith(base + "/"))
            self.note(
                "changed",
                f"retrieval intent '{base}' became the intents {', '.join(split)}, each answered by its "
                "own utter_<intent>",
                path,
                line,
            )
        for name, (path, line) in self.domain_intents.items():
            if name not in self.intents and name not in bases and name != FALLBACK_INTENT:
                self.note(
                    "dropped",
                    f"intent '{name}' has no NLU examples; botdesk knows intents only from their examples, "
                    "so it was left out (with the rules and stories that use it)",
                    path,
                    line,
                )

    # ---- rules and stories -------------------------------------------------------------
    def read_flows(self, sources: list[tuple[Path, Any]]) -> None:
        for path, raw in sources:
            flows = _Flows()
            for kind in ("rules", "stories"):
                for index, item in enumerate(raw.get(kind) or []):
                    line = line_of(raw, [kind, index])
                    target = flows.rules if kind == "rules" else flows.stories
                    target.extend(self._flow(kind, item, path, line))
            if flows.rules or flows.stories:
                self.flow_files[_unique(path.stem, self.flow_files, ("slots",))] = flows

    def _flow(self, kind: str, item: Any, path: Path, line: int | None) -> list[dict[str, Any]]:
        label = "rule" if kind == "rules" else "story"
        if not isinstance(item, dict) or label not in item or not isinstance(item.get("steps"), list):
            self.note("dropped", f"a {label} without a name or steps was left out", path, line)
            return []
        name = str(item[label])
        where = f"{label} '{name}'"
        plain_steps = to_plain(item["steps"])
        if self._fallback_rule(plain_steps, where, path, line) or self._generated_rule(label, name, item):
            return []
        try:
            variants = self._expand(item["steps"], path, where)
            conditions = self._expand(item.get("condition") or [], path, where)
        except _Drop as exc:
            self.note("dropped", f"{where} left out: {exc}", path, line)
            return []
        if len(variants) > 1:
            self.note("changed", f"{where}: 'or' steps written out as {len(variants)} {kind}", path, line)
        result = []
        for number, steps in enumerate(variants, start=1):
            if not any("action" in s for s in steps):
                self.note("dropped", f"{where} left out: no step botdesk can run remains", path, line)
                return []
            flow: dict[str, Any] = {label: name if len(variants) == 1 else f"{name} ({number})"}
            if label == "rule" and item.get("conversation_start"):
                flow["conversation_start"] = True
            if label == "rule" and conditions and conditions[0]:
                flow["condition"] = conditions[0]
            flow["steps"] = steps
            if label == "rule" and item.get("wait_for_user_input") is False:
                flow["wait_for_user_input"] = False
            result.append(flow)
        return result

    def _fallback_rule(self, steps: Any, where: str, path: Path, line: int | None) -> bool:
        """A flow that starts at nlu_fallback: botdesk handles that message itself."""
        if not steps or not isinstance(steps[0], dict) or steps[0].get("intent") != FALLBACK_INTENT:
            return False
        actions = {s.get("action") for s in steps[1:] if isinstance(s, dict)}
        plain = actions <= {DEFAULT_RESPONSE, "action_default_fallback", "action_listen"}
        self.note(
            "changed" if plain else "dropped",
            f"{where} left out: botdesk answers a message it does not understand with bot.fallback "
            "(utter_default's text) itself, and hands off after repeated misunderstandings",
            path,
            line,
        )
        return True

    def _generated_rule(self, label: str, name: str, item: Any) -> bool:
        """``answer X`` rules that ``botdesk export rasa`` writes for botdesk's default answer."""
        match = re.fullmatch(r"answer (\S+)", name)
        if label != "rule" or match is None or item.get("condition") or item.get("conversation_start"):
            return False
        intent, answer = match.group(1), f"utter_{match.group(1)}"
        if intent not in self.intents or answer not in self.responses:
            return False
        return bool(to_plain(item["steps"]) == [{"intent": intent}, {"action": answer}])

    def _expand(self, steps: Any, path: Path, where: str) -> list[list[dict[str, Any]]]:
        """Steps with ``or`` alternatives -> every sequence they stand for."""
        options: list[list[list[dict[str, Any]]]] = []
        for index, raw in enumerate(steps):
            line = line_of(steps, [index])
            if isinstance(raw, dict) and "or" in raw:
                alternatives = [self._step(alt, path, line, where) for alt in raw["or"] or []]
                options.append(alternatives)
            else:
                options.append([self._step(raw, path, line, where)])
        total = 1
        for alternatives in options:
            total *= max(len(alternatives), 1)
        if total > MAX_OR_EXPANSION:
            raise _Drop(f"its 'or' steps stand for {total} flows (more than {MAX_OR_EXPANSION})")
        return [[s for part in combo for s in part] for combo in itertools.product(*options)]

    def _step(self, raw: Any, path: Path, line: int | None, where: str) -> list[dict[str, Any]]:
        raw = to_plain(raw)
        if not isinstance(raw, dict):
            raise _Drop(f"a step at line {line} is not a mapping")
        if "user" in raw or "bot" in raw:
            raise _Drop("end-to-end 'user:'/'bot:' text steps are not supported")
        if "checkpoint" in raw:
            raise _Drop("checkpoints are not supported; write the stories out in full")
        if "intent" in raw:
            return [self._intent_step(raw, path, line, where)]
        if "action" in raw:
            return self._action_step(str(raw["action"]), path, line, where)
        if "slot_was_set" in raw:
            return self._slot_step(raw["slot_was_set"], path, line, where)
        if "active_loop" in raw:
            loop = raw["active_loop"]
            if loop is not None and str(loop) not in self.forms:
                self.note("dropped", f"{where}: step active_loop {loop} (unknown form) left out", path, line)
                return []
            return [{"active_loop": None if loop is None else str(loop)}]
        raise _Drop(f"unknown step ({', '.join(str(k) for k in raw)})")

    def _intent_step(self, raw: dict[str, Any], path: Path, line: int | None, where: str) -> dict[str, Any]:
        name = str(raw["intent"])
        name = self.retrieval.get(name, name)
        if any(k.startswith(name + "/") for k in self.retrieval):
            raise _Drop(
                f"it uses the retrieval intent '{name}' as a whole; botdesk answers each {name}_* "
                "intent with its own response by default"
            )
        if name == FALLBACK_INTENT:
            raise _Drop("botdesk handles nlu_fallback itself (bot.fallback, then a hand-off)")
        if name not in self.intents:
            raise _Drop(f"intent '{name}' has no NLU examples")
        if raw.get("entities"):
            self.note(
                "changed", f"{where}: the entities required with intent '{name}' are ignored", path, line
            )
        return {"intent": name}

    def _action_step(self, name: str, path: Path, line: int | None, where: str) -> list[dict[str, Any]]:
        name = self._response_name(name)
        if name in self.responses or name in self.forms or name in BOTDESK_ACTIONS:
            if name == DEFAULT_RESPONSE:
                self.uses_default = True
            return [{"action": name}]
        if name == "action_default_fallback":
            self.uses_default = True
            self.note("changed", f"{where}: action_default_fallback became utter_default", path, line)
            return [{"action": DEFAULT_RESPONSE}]
        if name == "action_deactivate_loop":
            self.note(
                "changed",
                f"{where}: action_deactivate_loop left out (botdesk ends a form itself on deny/goodbye)",
                path,
                line,
            )
            return []
        if name in RASA_DEFAULT_ACTIONS:
            self.note(
                "dropped", f"{where}: Rasa's {name} has no botdesk equivalent; step left out", path, line
            )
            return []
        what = "custom action" if not name.startswith("utter_") else "unknown response"
        self.note("dropped", f"{where}: {what} {name} left out (botdesk cannot run it)", path, line)
        return []

    def _slot_step(self, entries: Any, path: Path, line: int | None, where: str) -> list[dict[str, Any]]:
        kept: list[Any] = []
        for entry in entries or []:
            names = list(entry) if isinstance(entry, dict) else [entry]
            for name in names:
                if str(name) not in self.slots and str(name) != REQUESTED_SLOT:
                    self.note(
                        "dropped", f"{where}: slot_was_set {name} (undeclared slot) left out", path, line
                    )
                elif isinstance(entry, dict):
                    kept.append({str(name): entry[name]})
                else:
                    kept.append(str(name))
        return [{"slot_was_set": kept}] if kept else []

    # ---- test stories ------------------------------------------------------------------
    def read_tests(self) -> None:
        directory = self.root / "tests"
        if not directory.is_dir():
            return
        for path in sorted(p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES):
            raw = load_yaml(path, DataError)
            if isinstance(raw, dict):
                self._read_tests_file(path, raw)

    def _read_tests_file(self, path: Path, raw: Any) -> None:
        stories = []
        if raw.get("rules"):
            self.note("dropped", "test rules are not run by botdesk test", path, line_of(raw, ["rules"]))
        for index, item in enumerate(raw.get("stories") or []):
            line = line_of(raw, ["stories", index])
            name = str(item.get("story", f"story at line {line}")) if isinstance(item, dict) else "?"
            try:
                stories.append({"story": name, "steps": self._test_steps(item, path, name)})
            except _Drop as exc:
                self.note("dropped", f"test story '{name}' left out: {exc}", path, line)
        if stories:
            stem = path.stem if path.stem.startswith("test_") else f"test_{path.stem}"
            self.test_files[_unique(stem, self.test_files, ())] = stories

    def _test_steps(self, item: Any, path: Path, name: str) -> list[dict[str, Any]]:
        plain = to_plain(item)
        steps = plain.get("steps") if isinstance(plain, dict) else None
        if not isinstance(steps, list) or not steps:
            raise _Drop("it has no steps")
        result: list[dict[str, Any]] = []
        skipped: set[str] = set()
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                raise _Drop("a step is not a mapping")
            line = line_of(item.get("steps"), [index])
            if "user" in step or "intent" in step:
                result.append(self._test_user_step(step, path, line, name))
            elif "action" in step:
                result += self._test_action(str(step["action"]), steps[index + 1 :], path, line, name)
            elif "slot_was_set" in step or "active_loop" in step:
                skipped.add(next(k for k in ("slot_was_set", "active_loop") if k in step))
            elif "bot" in step:
                raise _Drop("end-to-end 'bot:' text steps are not supported")
            else:
                raise _Drop(f"unsupported step ({', '.join(step)})")
        if skipped:
            self.note(
                "dropped",
                f"test story '{name}': {' and '.join(sorted(skipped))} expectations are not checked by "
                "botdesk test and were left out",
                path,
                line_of(item, ["steps"]),
            )
        if not any("user" in s for s in result):
            raise _Drop("it has no user messages")
        return result

    def _test_user_step(
        self, step: dict[str, Any], path: Path, line: int | None, name: str
    ) -> dict[str, Any]:
        intent = step.get("intent")
        intent = self.retrieval.get(str(intent), str(intent)) if intent is not None else None
        if "user" not in step:
            self.note(
                "changed",
                f"test story '{name}': intent step {intent} became the button payload /{intent} "
                "(botdesk tests send text)",
                path,
                line,
            )
            return {"user": f"/{intent}", "intent": intent}
        text = str(step["user"]).strip()
        with contextlib.suppress(DataError):  # malformed markup: the text goes as it is
            text, _ = parse_annotations(text)
        result: dict[str, Any] = {"user": text}
        if intent is not None:
            result["intent"] = intent
        if step.get("entities"):
            self.note("dropped", f"test story '{name}': entities are not checked by botdesk test", path, line)
        return result

    def _test_action(
        self, name: str, rest: list[Any], path: Path, line: int | None, story: str
    ) -> list[dict[str, Any]]:
        name = self._response_name(name)
        if name == "action_listen":
            return []
        if name == "action_default_fallback":
            return [{"action": DEFAULT_RESPONSE}]
        if name in self.forms:
            asked = _requested_slot(rest)
            if asked:
                return [{"action": f"utter_ask_{asked}"}]
            self.note(
                "dropped",
                f"test story '{story}': the form step {name} is not a reply botdesk test can check",
                path,
                line,
            )
            return []
        if name.startswith("utter_") or name == "action_handoff":
            return [{"action": name}]
        self.note(
            "dropped",
            f"test story '{story}': expected action {name} left out (botdesk cannot run it)",
            path,
            line,
        )
        return []

    # ---- checks across files -----------------------------------------------------------
    def finish(self) -> None:
        """Form questions, slots only forms fill, the fallback text and botdesk's own texts."""
        for form, spec in self.forms.items():
            path, line = self.form_lines[form]
            for slot in spec["required_slots"]:
                self._ask_response(form, slot, path, line)
            if form == LEAD_FORM:
                continue
            self.note(
                "changed",
                f"form '{form}': botdesk runs forms like its lead form: when the form is complete the "
                "engine says utter_lead_saved (if a slot 'consent' is true) or utter_lead_declined, and "
                "rules after the form (e.g. a submit rule) do not run",
                path,
                line,
            )
        in_forms = {s for spec in self.forms.values() for s in spec["required_slots"]}
        for name, slot in self.slots.items():
            if name not in in_forms and slot["mappings"]:
                path, line = self.slot_lines[name]
                self.note(
                    "changed",
                    f"slot '{name}' is not asked by any form: botdesk fills slots only while a form "
                    "asks for them, so rules and stories that check it do not apply",
                    path,
                    line,
                )

    def _ask_response(self, form: str, slot: str, path: Path, line: int | None) -> None:
        own = f"utter_ask_{slot}"
        specific = f"utter_ask_{form}_{slot}"
        if specific in self.responses:
            if own in self.responses:
                self.note("changed", f"form '{form}': botdesk asks with {own}, not {specific}", path, line)
            else:
                self.responses[own] = self.responses[specific]
                self.note("changed", f"form '{form}': {specific} is used as {own}", path, line)
        elif own not in self.responses:
            self.note(
                "dropped",
                f"form '{form}' has no {own} response (an action_ask_* action cannot run): botdesk "
                "asks with the fallback text",
                path,
                line,
            )

    def fallback_text(self) -> str:
        variants = self.responses.get(DEFAULT_RESPONSE) or []
        texts = [str(v["text"]) for v in variants if v.get("text")]
        if not texts:
            return IDENTITY[self.settings.language]["fallback"]
        if len(texts) > 1:
            path, line = self.response_lines[DEFAULT_RESPONSE]
            self.note("changed", "utter_default: only its first variant became bot.fallback", path, line)
        return texts[0]

    # ---- documents ---------------------------------------------------------------------
    def documents(self) -> Iterator[tuple[str, Any, str]]:
        """(relative path, YAML data, header comment) of every file of the botdesk project."""
        language = self.settings.language
        fallback = self.fallback_text()
        yield "config.yml", self.config_document(fallback), CONFIG_HEADER
        for stem, items in self.nlu_files.items():
            yield f"intents/{stem}.yml", {"version": RASA_FORMAT, "nlu": items}, ""
        responses = {k: v for k, v in self.responses.items() if k != DEFAULT_RESPONSE or self.uses_default}
        entities = sorted(set(self.entities))
        yield (
            "intents/responses.yml",
            {"version": RASA_FORMAT, "entities": entities, "responses": responses},
            "",
        )
        system = {
            name: [{"text": text}]
            for name, text in SYSTEM_TEXTS[language].items()
            if name not in self.responses
        }
        if system:
            yield "intents/botdesk.yml", {"version": RASA_FORMAT, "responses": system}, SYSTEM_HEADER
        if self.slots or self.forms:
            slots_doc: dict[str, Any] = {"version": RASA_FORMAT}
            if self.slots:
                slots_doc["slots"] = self.slots
            if self.forms:
                slots_doc["forms"] = self.forms
            yield "stories/slots.yml", slots_doc, ""
        for stem, flows in self.flow_files.items():
            doc: dict[str, Any] = {"version": RASA_FORMAT}
            if flows.rules:
                doc["rules"] = flows.rules
            if flows.stories:
                doc["stories"] = flows.stories
            yield f"stories/{stem}.yml", doc, ""
        for stem, stories in self.test_files.items():
            yield f"tests/{stem}.yml", {"stories": stories}, ""

    def config_document(self, fallback: str) -> dict[str, Any]:
        identity = IDENTITY[self.settings.language]
        pipeline = [dict(item) for item in DEFAULT_PIPELINE]
        if self.settings.fallback:
            pipeline[-1].update(self.settings.fallback)
        return {
            "version": RASA_FORMAT,
            "assistant_id": self.settings.assistant_id,
            "language": self.settings.language,
            "pipeline": pipeline,
            "bot": {
                "name": identity["name"],
                "label": identity["label"],
                "introduction": identity["introduction"],
                "fallback": fallback,
            },
            "intents": {"human_only": [], "buying_interest": []},
            "escalation": {
                "rules": [{"name": "human_request", "priority": 5}, {"name": "misunderstood", "times": 2}],
                "ask_feedback": False,
            },
            "departments": [
                {
                    "key": "support",
                    "name": identity["department"],
                    "hours": {"timezone": identity["timezone"], "schedule": {"daily": "09:00-21:00"}},
                }
            ],
        }


CONFIG_HEADER = """\
# botdesk configuration, written by `botdesk import rasa`.
# The dialogue follows the imported rules and stories: the only hand-offs are an explicit
# request for a person and two misunderstood messages in a row; no feedback question, no
# lead offer. botdesk's other escalation rules (complaint, human_only, did_not_help,
# unsure, repeated_question), intents.human_only and intents.buying_interest can be
# switched on here: see the default project (`botdesk init`).
"""
SYSTEM_HEADER = """\
# Texts botdesk's dialogue engine says itself (hand-off, working hours, forms);
# the Rasa project had none of these responses.
"""


def import_rasa(source: Path, target: Path, force: bool = False) -> ImportResult:
    """Write the botdesk project for the Rasa project in ``source``; notes say what changed."""
    root = source.expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"Rasa project directory {root} does not exist")
    if not _domain_files(root) and not (root / "data").is_dir():
        raise ConfigError(f"{root} is not a Rasa project: no domain.yml, domain/ or data/")
    target = target.expanduser().resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"{target} is not empty; choose a new directory or use --force")
    conversion = _Conversion(root)
    conversion.read_config()
    conversion.read_domain()
    flow_sources = conversion.read_data()
    if not conversion.nlu_files:
        raise DataError("no NLU examples found (expected data/*.yml with 'nlu:')", root / "data")
    conversion.read_flows(flow_sources)
    conversion.read_tests()
    conversion.finish()
    files = []
    for relative, document, header in conversion.documents():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + _dump(document), encoding="utf-8")
        files.append(path)
    _check(target, [f for f in files if f.parent.name == "tests"])
    return ImportResult(target, files, conversion.notes)


def _check(target: Path, tests: list[Path]) -> None:
    """Load the written project the way botdesk will; a failure here is an import bug."""
    try:
        project = Project.open(target)
        _ = project.config, project.data, project.dialogue
        load_test_stories(tests)
    except SourceError as exc:
        raise DataError(f"the imported project does not load ({exc}); please report this") from None


# ---- small helpers -----------------------------------------------------------------------
def _domain_files(root: Path) -> list[Path]:
    files = [root / f"domain{suffix}" for suffix in YAML_SUFFIXES if (root / f"domain{suffix}").is_file()]
    if (root / "domain").is_dir():
        files += sorted(p for p in (root / "domain").rglob("*") if p.suffix in YAML_SUFFIXES)
    return files


def _data_files(root: Path) -> list[Path]:
    directory = root / "data"
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in (*YAML_SUFFIXES, ".md", ".json")
    )


def _named(entry: Any) -> tuple[str, Any]:
    """``- greet`` or ``- greet: {use_entities: ...}`` -> name and options."""
    if isinstance(entry, dict) and len(entry) == 1:
        name, spec = next(iter(entry.items()))
        return str(name), to_plain(spec)
    return str(entry), None


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _slug(name: str) -> str:
    return re.sub(r"[^\w\-]+", "-", name).strip("-").lower() or "botdesk"


def _unique(stem: str, taken: dict[str, Any], reserved: tuple[str, ...]) -> str:
    candidate, number = stem, 2
    while candidate in taken or candidate in reserved:
        candidate, number = f"{stem}_{number}", number + 1
    return candidate


def _example_lines(block: Any, block_line: int | None) -> list[tuple[str, int | None]]:
    """Rasa's ``examples: |`` block (or a list of ``text:`` items) -> texts with their lines."""
    result: list[tuple[str, int | None]] = []
    if isinstance(block, str):
        for offset, raw in enumerate(block.splitlines()):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            text = text[1:].strip() if text.startswith("-") else text
            result.append((text, block_line + 1 + offset if block_line is not None else None))
    elif isinstance(block, list):
        for index, item in enumerate(block):
            value = item.get("text") if isinstance(item, dict) else item
            if isinstance(value, str) and value.strip():
                result.append((value.strip(), line_of(block, [index])))
    return [(t, line) for t, line in result if t]


def _convert_annotations(text: str) -> tuple[str, list[str]]:
    """Rasa's entity markup -> botdesk's (no roles/groups; ``(entity:value)`` as JSON)."""
    dropped: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        surface = match.group("text")
        if match.group("json") is not None:
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError:
                return match.group(0)
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                return match.group(0)
            for key in ("role", "group"):
                if key in spec:
                    dropped.append(f"{key} '{spec[key]}' of entity '{spec['entity']}'")
            entity, value = spec["entity"], str(spec.get("value", surface))
        else:
            target = match.group("entity") or ""
            if ":" not in target:
                return match.group(0)
            entity, value = (part.strip() for part in target.split(":", 1))
        if value == surface:
            return f"[{surface}]({entity})"
        return f"[{surface}]" + json.dumps({"entity": entity, "value": value}, ensure_ascii=False)

    return ANNOTATION.sub(rewrite, text), dropped


def _requested_slot(rest: list[Any]) -> str | None:
    """The slot a form asks for next, from the ``slot_was_set`` steps right after it."""
    for step in rest:
        if not isinstance(step, dict) or not ("slot_was_set" in step or "active_loop" in step):
            return None
        for entry in step.get("slot_was_set") or []:
            if isinstance(entry, dict) and entry.get(REQUESTED_SLOT):
                return str(entry[REQUESTED_SLOT])
    return None


def _dump(data: Any) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    stream = StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()
