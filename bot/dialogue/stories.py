"""Rules, stories, slots and forms from ``stories/*.yml`` (Rasa 3 format).

Steps are normalised to a small set of kinds — ``intent``, ``action``, ``slot``
(``slot_was_set``), ``loop`` (``active_loop``) — so the policy matches them without
caring about YAML spellings. Unknown intents, actions or slots are errors with the
file and line, found at load time rather than in a conversation.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.errors import DataError
from bot.yamlio import line_of, load_yaml, to_plain

TOP_KEYS = ("version", "rules", "stories", "slots", "forms")
RULE_KEYS = ("rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata")
STORY_KEYS = ("story", "steps", "metadata")
SLOT_TYPES = ("text", "bool", "categorical", "float", "any", "list")
MAPPING_TYPES = ("from_entity", "from_text", "from_intent", "custom")
ACTIVE_LOOP_NONE = "null"
REQUESTED_SLOT = "requested_slot"


@dataclass(frozen=True, slots=True)
class Step:
    kind: Literal["intent", "action", "slot", "loop"]
    name: str
    value: Any = None
    line: int | None = None

    def matches(self, other: Step) -> bool:
        return (
            self.kind == other.kind
            and self.name == other.name
            and (self.kind != "slot" or self.value == other.value)
        )


@dataclass(frozen=True)
class Flow:
    """A rule or a story: ordered steps, plus conditions that must hold before it."""

    name: str
    kind: Literal["rule", "story"]
    steps: tuple[Step, ...]
    conditions: tuple[Step, ...] = ()
    conversation_start: bool = False
    wait_for_user_input: bool = True
    source: str = ""
    line: int | None = None


@dataclass(frozen=True)
class SlotMapping:
    type: str
    entity: str | None = None
    intent: str | None = None
    value: Any = None
    not_intent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slot:
    name: str
    type: str = "any"
    values: tuple[str, ...] = ()
    mappings: tuple[SlotMapping, ...] = ()
    initial_value: Any = None


@dataclass(frozen=True)
class Form:
    name: str
    required_slots: tuple[str, ...]


@dataclass
class DialogueData:
    flows: list[Flow] = field(default_factory=list)
    slots: dict[str, Slot] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)

    @property
    def rules(self) -> list[Flow]:
        return [f for f in self.flows if f.kind == "rule"]

    @property
    def stories(self) -> list[Flow]:
        return [f for f in self.flows if f.kind == "story"]


def load_dialogue_data(paths: Iterable[Path]) -> DialogueData:
    data = DialogueData()
    for path in sorted(paths):
        raw = load_yaml(path, DataError)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise DataError("expected a mapping with rules:, stories:, slots: or forms:", path, 1)
        for key in raw:
            if key not in TOP_KEYS:
                raise DataError(_unknown(str(key), TOP_KEYS, "at the top"), path, line_of(raw, [key]))
        for name, spec in (raw.get("slots") or {}).items():
            data.slots[str(name)] = _slot(str(name), spec, path, line_of(raw, ["slots", name]))
        for name, spec in (raw.get("forms") or {}).items():
            data.forms[str(name)] = _form(str(name), spec, path, line_of(raw, ["forms", name]))
        for kind in ("rules", "stories"):
            items = raw.get(kind) or []
            if not isinstance(items, list):
                raise DataError(f"'{kind}' must be a list", path, line_of(raw, [kind]))
            for index, item in enumerate(items):
                data.flows.append(_flow(kind, item, path, line_of(raw, [kind, index])))
    return data


def _slot(name: str, spec: Any, path: Path, line: int | None) -> Slot:
    spec = to_plain(spec) or {}
    if not isinstance(spec, dict):
        raise DataError(f"slot '{name}' must be a mapping with 'type' and 'mappings'", path, line)
    allowed = ("type", "values", "mappings", "initial_value", "influence_conversation")
    for key in spec:
        if key not in allowed:
            raise DataError(_unknown(key, allowed, f"slot '{name}'"), path, line)
    slot_type = spec.get("type", "any")
    if slot_type not in SLOT_TYPES:
        raise DataError(
            f"slot '{name}': unknown type {slot_type!r}; expected one of {', '.join(SLOT_TYPES)}", path, line
        )
    mappings = []
    for mapping in spec.get("mappings") or []:
        if not isinstance(mapping, dict) or mapping.get("type") not in MAPPING_TYPES:
            raise DataError(
                f"slot '{name}': each mapping needs a type out of {', '.join(MAPPING_TYPES)}", path, line
            )
        if mapping["type"] == "from_entity" and not mapping.get("entity"):
            raise DataError(f"slot '{name}': a from_entity mapping needs 'entity'", path, line)
        mappings.append(
            SlotMapping(
                type=mapping["type"],
                entity=mapping.get("entity"),
                intent=mapping.get("intent"),
                value=mapping.get("value"),
                not_intent=tuple(mapping.get("not_intent") or ()),
            )
        )
    return Slot(name, slot_type, tuple(spec.get("values") or ()), tuple(mappings), spec.get("initial_value"))


def _form(name: str, spec: Any, path: Path, line: int | None) -> Form:
    spec = to_plain(spec) or {}
    required = spec.get("required_slots") if isinstance(spec, dict) else None
    if not isinstance(required, list) or not required:
        raise DataError(f"form '{name}' needs a non-empty 'required_slots' list", path, line)
    return Form(name, tuple(str(s) for s in required))


def _flow(kind: str, item: Any, path: Path, line: int | None) -> Flow:
    label = "rule" if kind == "rules" else "story"
    allowed = RULE_KEYS if label == "rule" else STORY_KEYS
    if not isinstance(item, dict) or label not in item:
        raise DataError(f"each item of '{kind}' needs a '{label}:' name and 'steps:'", path, line)
    for key in item:
        if key not in allowed:
            raise DataError(
                _unknown(str(key), allowed, f"{label} '{item[label]}'"), path, line_of(item, [key]) or line
            )
    steps_raw = item.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise DataError(f"{label} '{item[label]}' has no steps", path, line)
    steps: list[Step] = []
    for index, raw_step in enumerate(steps_raw):
        steps.extend(_steps(raw_step, path, line_of(steps_raw, [index]) or line, str(item[label])))
    conditions: list[Step] = []
    for index, raw_step in enumerate(item.get("condition") or []):
        conditions.extend(
            _steps(raw_step, path, line_of(item, ["condition", index]) or line, str(item[label]))
        )
    return Flow(
        name=str(item[label]),
        kind=label,  # type: ignore[arg-type]
        steps=tuple(steps),
        conditions=tuple(conditions),
        conversation_start=bool(item.get("conversation_start", False)),
        wait_for_user_input=bool(item.get("wait_for_user_input", True)),
        source=str(path),
        line=line,
    )


def _steps(raw: Any, path: Path, line: int | None, owner: str) -> list[Step]:
    if not isinstance(raw, dict):
        raise DataError(
            f"'{owner}': a step must be a mapping like 'intent: greet' or 'action: utter_greet'", path, line
        )
    if "intent" in raw:
        return [Step("intent", str(raw["intent"]), line=line)]
    if "action" in raw:
        return [Step("action", str(raw["action"]), line=line)]
    if "active_loop" in raw:
        value = raw["active_loop"]
        return [Step("loop", ACTIVE_LOOP_NONE if value is None else str(value), line=line)]
    if "slot_was_set" in raw:
        result = []
        for entry in raw["slot_was_set"] or []:
            if isinstance(entry, dict):
                result += [Step("slot", str(k), to_plain(v), line) for k, v in entry.items()]
            else:
                result.append(Step("slot", str(entry), None, line))
        return result
    if "or" in raw:
        raise DataError(
            f"'{owner}': 'or' steps are not supported yet; write one rule per alternative", path, line
        )
    if "checkpoint" in raw:
        raise DataError(
            f"'{owner}': checkpoints are not supported; write the stories out in full", path, line
        )
    keys = ", ".join(str(k) for k in raw)
    raise DataError(
        f"'{owner}': unknown step ({keys}); expected intent, action, slot_was_set or active_loop", path, line
    )


def validate_references(data: DialogueData, intents: set[str], actions: set[str]) -> None:
    """Every intent, action and slot a flow names must exist."""
    known = {
        "intent": intents,
        "action": actions | set(data.forms),
        "slot": set(data.slots) | {REQUESTED_SLOT},
    }
    for flow in data.flows:
        for step in (*flow.conditions, *flow.steps):
            names = known.get(step.kind)
            if names is not None and step.name not in names:
                raise DataError(
                    f"{flow.kind} '{flow.name}': unknown {step.kind} '{step.name}'{_hint(step.name, names)}",
                    Path(flow.source),
                    step.line,
                )
            if step.kind == "loop" and step.name != ACTIVE_LOOP_NONE and step.name not in data.forms:
                raise DataError(
                    f"{flow.kind} '{flow.name}': unknown form '{step.name}'", Path(flow.source), step.line
                )
    for form in data.forms.values():
        for slot in form.required_slots:
            if slot not in data.slots:
                raise DataError(
                    f"form '{form.name}' requires slot '{slot}', which is not declared under slots:"
                )


def _hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unknown(key: str, allowed: Iterable[str], where: str) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
    return f"unknown key '{key}' in {where}; {hint}"
