"""The Rasa domain -> botdesk's intents, entities, responses, slots and forms.

Custom actions declared here are reported (botdesk cannot run them). After every file is
read, :func:`finish_forms` gives each form slot its question and notes what forms do differently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.dialogue.engine import LEAD_FORM
from bot.dialogue.stories import MAPPING_TYPES, SLOT_TYPES
from bot.errors import DataError
from bot.interop.rasa_import.responses import read_responses
from bot.interop.rasa_import.state import RASA_DEFAULT_ACTIONS, YAML_SUFFIXES, Conversion
from bot.project import BUILTIN_ACTIONS
from bot.yamlio import line_of, load_yaml, to_plain

SLOT_KEYS = ("type", "values", "mappings", "initial_value", "influence_conversation")


def domain_files(root: Path) -> list[Path]:
    """``domain.yml`` (or ``.yaml``) and every YAML file under ``domain/``."""
    files = [root / f"domain{suffix}" for suffix in YAML_SUFFIXES if (root / f"domain{suffix}").is_file()]
    if (root / "domain").is_dir():
        files += sorted(p for p in (root / "domain").rglob("*") if p.suffix in YAML_SUFFIXES)
    return files


def read_domain(conv: Conversion) -> None:
    files = domain_files(conv.root)
    if not files:
        conv.note("changed", "no domain.yml or domain/: responses, slots and forms come from data files")
    for path in files:
        raw = load_yaml(path, DataError)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise DataError("expected a mapping (intents:, responses:, slots:, ...)", path, 1)
        _domain_intents(conv, raw, path)
        _domain_entities(conv, raw, path)
        read_responses(conv, raw.get("responses"), path)
        for name, spec in (raw.get("slots") or {}).items():
            _slot(conv, str(name), spec, path, line_of(raw, ["slots", name]))
        for name, spec in (raw.get("forms") or {}).items():
            _form(conv, str(name), spec, path, line_of(raw, ["forms", name]))
        for index, action in enumerate(raw.get("actions") or []):
            _declared_action(conv, str(action), path, line_of(raw, ["actions", index]))
        if raw.get("e2e_actions"):
            conv.note(
                "dropped",
                "e2e_actions (end-to-end bot texts) are not supported",
                path,
                line_of(raw, ["e2e_actions"]),
            )


def _domain_intents(conv: Conversion, raw: Any, path: Path) -> None:
    for index, entry in enumerate(raw.get("intents") or []):
        line = line_of(raw, ["intents", index])
        name, spec = _named(entry)
        conv.domain_intents[name] = (path, line)
        if isinstance(spec, dict) and spec.get("triggers"):
            conv.note(
                "dropped",
                f"intent '{name}' triggers action {spec['triggers']}; botdesk has no intent triggers "
                "(write a rule instead)",
                path,
                line,
            )


def _domain_entities(conv: Conversion, raw: Any, path: Path) -> None:
    for index, entry in enumerate(raw.get("entities") or []):
        name, spec = _named(entry)
        if name not in conv.entities:
            conv.entities.append(name)
        if isinstance(spec, dict) and (spec.get("roles") or spec.get("groups")):
            conv.note(
                "dropped",
                f"entity '{name}': roles and groups are not supported; the plain entity is kept",
                path,
                line_of(raw, ["entities", index]),
            )


def _slot(conv: Conversion, name: str, spec: Any, path: Path, line: int | None) -> None:
    spec = to_plain(spec) or {}
    if not isinstance(spec, dict):
        conv.note("dropped", f"slot '{name}' is not a mapping and was left out", path, line)
        return
    result: dict[str, Any] = {}
    slot_type = str(spec.get("type", "any"))
    if slot_type not in SLOT_TYPES:
        conv.note("changed", f"slot '{name}': type {slot_type} became 'any'", path, line)
        slot_type = "any"
    result["type"] = slot_type
    extra = sorted(k for k in spec if k not in SLOT_KEYS)
    if extra:
        conv.note("dropped", f"slot '{name}': {', '.join(extra)} not supported, left out", path, line)
    for key in ("values", "initial_value", "influence_conversation"):
        if key in spec:
            result[key] = spec[key]
    mappings: list[dict[str, Any]] = []
    for mapping in spec.get("mappings") or []:
        mappings += _mapping(conv, name, mapping, path, line)
    result["mappings"] = mappings
    conv.slots[name] = result
    conv.slot_lines[name] = (path, line)


def _mapping(conv: Conversion, slot: str, mapping: Any, path: Path, line: int | None) -> list[dict[str, Any]]:
    if not isinstance(mapping, dict):
        return []
    kind = str(mapping.get("type", ""))
    if kind not in MAPPING_TYPES:
        conv.note("dropped", f"slot '{slot}': {kind} mapping is not supported, left out", path, line)
        return []
    base: dict[str, Any] = {"type": kind}
    if mapping.get("entity"):
        base["entity"] = str(mapping["entity"])
    if "value" in mapping:
        base["value"] = mapping["value"]
    if mapping.get("not_intent"):
        base["not_intent"] = _as_list(mapping["not_intent"])
    if mapping.get("role") or mapping.get("group"):
        conv.note("dropped", f"slot '{slot}': entity role/group in a mapping ignored", path, line)
    if kind == "custom":
        conv.note(
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
        conv.note(
            "changed",
            f"slot '{slot}': the {kind} mapping's intent restriction ({', '.join(intents)}) is ignored",
            path,
            line,
        )
    return [base]


def _form(conv: Conversion, name: str, spec: Any, path: Path, line: int | None) -> None:
    spec = to_plain(spec) or {}
    required = spec.get("required_slots") if isinstance(spec, dict) else None
    if isinstance(required, dict):  # Rasa 2: slot -> mappings
        conv.note("changed", f"form '{name}': Rasa 2 required_slots mappings left out", path, line)
        required = list(required)
    if not isinstance(required, list) or not required:
        conv.note("dropped", f"form '{name}' has no required_slots and was left out", path, line)
        return
    if spec.get("ignored_intents"):
        conv.note("dropped", f"form '{name}': ignored_intents is not supported", path, line)
    conv.forms[name] = {"required_slots": [str(s) for s in required]}
    conv.form_lines[name] = (path, line)


def _declared_action(conv: Conversion, name: str, path: Path, line: int | None) -> None:
    if name in BUILTIN_ACTIONS or name in RASA_DEFAULT_ACTIONS or name.startswith("utter_"):
        return
    conv.custom_actions.add(name)
    hint = " (form validation: botdesk validates slots by name, see bot/dialogue/validators.py)"
    conv.note(
        "dropped",
        f"custom action {name} is Python code run by Rasa's action server; botdesk cannot run it"
        + (hint if name.startswith("validate_") else ""),
        path,
        line,
    )


def finish_forms(conv: Conversion) -> None:
    """Form questions, and slots only forms fill (checked once every file is read)."""
    for form, spec in conv.forms.items():
        path, line = conv.form_lines[form]
        for slot in spec["required_slots"]:
            _ask_response(conv, form, slot, path, line)
        if form == LEAD_FORM:
            continue
        conv.note(
            "changed",
            f"form '{form}': botdesk runs forms like its lead form: when the form is complete the "
            "engine says utter_lead_saved (if a slot 'consent' is true) or utter_lead_declined, and "
            "rules after the form (e.g. a submit rule) do not run",
            path,
            line,
        )
    in_forms = {s for spec in conv.forms.values() for s in spec["required_slots"]}
    for name, slot in conv.slots.items():
        if name not in in_forms and slot["mappings"]:
            path, line = conv.slot_lines[name]
            conv.note(
                "changed",
                f"slot '{name}' is not asked by any form: botdesk fills slots only while a form "
                "asks for them, so rules and stories that check it do not apply",
                path,
                line,
            )


def _ask_response(conv: Conversion, form: str, slot: str, path: Path, line: int | None) -> None:
    own = f"utter_ask_{slot}"
    specific = f"utter_ask_{form}_{slot}"
    if specific in conv.responses:
        if own in conv.responses:
            conv.note("changed", f"form '{form}': botdesk asks with {own}, not {specific}", path, line)
        else:
            conv.responses[own] = conv.responses[specific]
            conv.note("changed", f"form '{form}': {specific} is used as {own}", path, line)
    elif own not in conv.responses:
        conv.note(
            "dropped",
            f"form '{form}' has no {own} response (an action_ask_* action cannot run): botdesk "
            "asks with the fallback text",
            path,
            line,
        )


def _named(entry: Any) -> tuple[str, Any]:
    """``- greet`` or ``- greet: {use_entities: ...}`` -> name and options."""
    if isinstance(entry, dict) and len(entry) == 1:
        name, spec = next(iter(entry.items()))
        return str(name), to_plain(spec)
    return str(entry), None


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
