"""The Rasa domain -> botdesk's intents, entities, responses, slots and forms.

Custom actions declared here are reported (botdesk cannot run them). After every file is
read, :func:`finish_forms` gives each form slot its question and notes what forms do differently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.dialogue.engine import LEAD_FORM
from bot.dialogue.stories import MAPPING_KEYS, MAPPING_TYPES, SLOT_KEYS, SLOT_TYPES
from bot.dialogue.validators import VALIDATORS
from bot.errors import DataError
from bot.interop.rasa_import.responses import read_responses
from bot.interop.rasa_import.state import RASA_DEFAULT_ACTIONS, YAML_SUFFIXES, Conversion
from bot.project import BUILTIN_ACTIONS
from bot.yamlio import line_of, load_yaml, to_plain


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
            # Rasa runs the action right after the intent: exactly what a rule does.
            conv.trigger_rules.append(
                {
                    "rule": f"{name} triggers {spec['triggers']}",
                    "steps": [{"intent": name}, {"action": str(spec["triggers"])}],
                }
            )
            conv.note(
                "changed",
                f"intent '{name}': triggers became the rule '{name} triggers {spec['triggers']}'",
                path,
                line,
            )
        if isinstance(spec, dict) and (spec.get("use_entities") is not None or spec.get("ignore_entities")):
            conv.note(
                "changed",
                f"intent '{name}': use_entities/ignore_entities are not carried over; every entity of "
                "the message fills slots and counts in stories",
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
        conv.note(
            "changed", f"slot '{name}': type {slot_type} (a custom slot class) became 'any'", path, line
        )
        slot_type = "any"
    result["type"] = slot_type
    extra = sorted(k for k in spec if k not in SLOT_KEYS or k == "validator")
    if extra:
        conv.note("dropped", f"slot '{name}': {', '.join(extra)} not supported, left out", path, line)
    for key in ("values", "initial_value", "influence_conversation", "min_value", "max_value"):
        if key in spec and not (slot_type == "any" and key == "influence_conversation"):
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
    result = {k: v for k, v in mapping.items() if k in MAPPING_KEYS}
    unknown = sorted(str(k) for k in mapping if k not in MAPPING_KEYS)
    if unknown:
        conv.note("dropped", f"slot '{slot}': mapping key(s) {', '.join(unknown)} left out", path, line)
    if mapping.get("role") or mapping.get("group"):
        conv.note(
            "changed",
            f"slot '{slot}': the mapping needs entity role/group, which botdesk's NLU does not predict; "
            "it fills only from entities that carry them",
            path,
            line,
        )
    if kind in ("from_intent", "from_trigger_intent") and "value" not in result:
        conv.note("dropped", f"slot '{slot}': a {kind} mapping without 'value' left out", path, line)
        return []
    return [result]


def _form(conv: Conversion, name: str, spec: Any, path: Path, line: int | None) -> None:
    spec = to_plain(spec) or {}
    required = spec.get("required_slots") if isinstance(spec, dict) else None
    if isinstance(required, dict):  # Rasa 2: slot -> mappings
        conv.note("changed", f"form '{name}': Rasa 2 required_slots mappings left out", path, line)
        required = list(required)
    if not isinstance(required, list) or not required:
        conv.note("dropped", f"form '{name}' has no required_slots and was left out", path, line)
        return
    form: dict[str, Any] = {"required_slots": [str(s) for s in required]}
    ignored = spec.get("ignored_intents")
    if ignored:
        form["ignored_intents"] = [str(i) for i in ignored] if isinstance(ignored, list) else [str(ignored)]
    conv.forms[name] = form
    conv.form_lines[name] = (path, line)


def _declared_action(conv: Conversion, name: str, path: Path, line: int | None) -> None:
    if name in BUILTIN_ACTIONS or name in RASA_DEFAULT_ACTIONS or name.startswith("utter_"):
        return
    conv.custom_actions.add(name)
    conv.custom_action_lines.setdefault(name, (path, line))


def finish_forms(conv: Conversion) -> None:
    """Each form slot needs a question; built-in validators for botdesk's own (exported) lead form."""
    for form, spec in conv.forms.items():
        path, line = conv.form_lines[form]
        for slot in spec["required_slots"]:
            asks = (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}")
            actions = (f"action_ask_{form}_{slot}", f"action_ask_{slot}")
            if not any(a in conv.responses for a in asks) and not any(
                a in conv.custom_actions for a in actions
            ):
                conv.note(
                    "dropped",
                    f"form '{form}' has no utter_ask_{slot} response or action_ask_{slot} action: "
                    "botdesk asks with the fallback text",
                    path,
                    line,
                )
            if form == LEAD_FORM and slot in VALIDATORS and slot in conv.slots:
                conv.slots[slot]["validator"] = slot
        if form == LEAD_FORM and "email" in conv.slots and "email" in VALIDATORS:
            conv.slots["email"]["validator"] = "email"
    if conv.custom_actions and conv.endpoint is None:
        path, line = next(
            iter(sorted(conv.custom_action_lines.values(), key=lambda w: (str(w[0]), w[1] or 0)))
        )
        conv.note(
            "changed",
            f"custom actions ({', '.join(sorted(conv.custom_actions))}) run on an action server, but "
            "endpoints.yml has no action_endpoint: until one is set, botdesk hands these turns to a person",
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
