"""Rules, stories, slots and forms from ``stories/*.yml`` (Rasa 3 format).

Steps are normalised to a small set of kinds — ``intent``, ``action``, ``slot``
(``slot_was_set``), ``loop`` (``active_loop``) — so the policy matches them without
caring about YAML spellings. Unknown intents, actions or slots are errors with the
file and line, found at load time rather than in a conversation.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from bot.actions.http import HttpActionSpec, parse_http_action
from bot.errors import DataError
from bot.yamlio import line_of, load_yaml, to_plain

TOP_KEYS = ("version", "rules", "stories", "slots", "forms", "intents", "actions", "http_actions")
RULE_KEYS = ("rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata")
STORY_KEYS = ("story", "steps", "metadata")
SLOT_TYPES = ("text", "bool", "categorical", "float", "any", "list")
MAPPING_TYPES = ("from_entity", "from_text", "from_intent", "from_trigger_intent", "custom")
SLOT_KEYS = (
    "type",
    "values",
    "mappings",
    "initial_value",
    "influence_conversation",
    "min_value",
    "max_value",
    "validator",
)
MAPPING_KEYS = ("type", "entity", "role", "group", "intent", "not_intent", "value", "conditions", "action")
ACTIVE_LOOP_NONE = "null"
REQUESTED_SLOT = "requested_slot"
SLOT_IS_SET = "__any_value__"  # "slot_was_set: - name" without a value: set to anything
MAX_OR_EXPANSION = 16  # flows one rule or story with ``or`` steps may stand for
MAX_CHECKPOINT_PATHS = 64  # stories that checkpoints may stitch together from one start


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a flow or of the history.

    ``value`` is the slot's value for ``slot`` steps and, for ``intent`` steps, the entity
    names the message carried (in the history) or requires (in a flow: ``entities:``).
    """

    kind: Literal["intent", "action", "slot", "loop"]
    name: str
    value: Any = None
    line: int | None = None

    def matches(self, other: Step) -> bool:
        """Does ``other`` (a step of the history) fit this flow step?"""
        if self.kind != other.kind or self.name != other.name:
            return False
        if self.kind == "intent":
            return not self.value or set(self.value) <= set(other.value or ())
        return self.kind != "slot" or self.value == other.value


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
class MappingCondition:
    """Rasa's mapping ``conditions``: only while this form is active (and asks for this slot)."""

    active_loop: str | None
    requested_slot: str | None = None


@dataclass(frozen=True)
class SlotMapping:
    type: str
    entity: str | None = None
    intent: tuple[str, ...] = ()
    value: Any = None
    not_intent: tuple[str, ...] = ()
    role: str | None = None
    group: str | None = None
    conditions: tuple[MappingCondition, ...] = ()
    action: str | None = None  # custom mappings: the action that fills the slot


@dataclass(frozen=True)
class Slot:
    name: str
    type: str = "any"
    values: tuple[str, ...] = ()
    mappings: tuple[SlotMapping, ...] = ()
    initial_value: Any = None
    influence_conversation: bool = True
    min_value: float = 0.0
    max_value: float = 1.0
    validator: str | None = None  # botdesk's built-in validator (bot/dialogue/validators.py)

    @property
    def featurized(self) -> bool:
        """Rasa: only slots that influence the conversation steer rules and stories."""
        return self.influence_conversation and self.type != "any"


@dataclass(frozen=True)
class Form:
    name: str
    required_slots: tuple[str, ...]
    ignored_intents: tuple[str, ...] = ()


@dataclass
class DialogueData:
    flows: list[Flow] = field(default_factory=list)
    slots: dict[str, Slot] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)
    intents: list[str] = field(default_factory=list)  # declared, maybe without NLU examples
    actions: list[str] = field(default_factory=list)  # custom actions run by the action server
    http_actions: dict[str, HttpActionSpec] = field(default_factory=dict)

    @property
    def rules(self) -> list[Flow]:
        return [f for f in self.flows if f.kind == "rule"]

    @property
    def stories(self) -> list[Flow]:
        return [f for f in self.flows if f.kind == "story"]

    def responses_said(self) -> set[str]:
        """Responses the dialogue says: flow steps, form questions, HTTP actions' responses."""
        said = {s.name for f in self.flows for s in f.steps if s.kind == "action"}
        for form in self.forms.values():
            for slot in form.required_slots:
                said |= {f"utter_ask_{slot}", f"utter_ask_{form.name}_{slot}", f"utter_invalid_{slot}"}
        for spec in self.http_actions.values():
            said |= set(spec.responses())
        return said


def load_dialogue_data(paths: Iterable[Path]) -> DialogueData:
    data = DialogueData()
    story_items: list[tuple[Any, Path, int | None]] = []
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
        for key, target in (("intents", data.intents), ("actions", data.actions)):
            items = raw.get(key) or []
            if not isinstance(items, list):
                raise DataError(f"'{key}' must be a list of names", path, line_of(raw, [key]))
            for item in items:
                name = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else item
                if str(name) not in target:
                    target.append(str(name))
        for name, spec in (raw.get("http_actions") or {}).items():
            data.http_actions[str(name)] = parse_http_action(
                str(name), to_plain(spec), path, line_of(raw, ["http_actions", name])
            )
        for kind in ("rules", "stories"):
            items = raw.get(kind) or []
            if not isinstance(items, list):
                raise DataError(f"'{kind}' must be a list", path, line_of(raw, [kind]))
            for index, item in enumerate(items):
                line = line_of(raw, [kind, index])
                if kind == "stories" and _has_checkpoint(item):
                    story_items.append((item, path, line))
                    continue
                data.flows.extend(_flows(kind, item, path, line))
    data.flows.extend(_stitch_checkpoints(story_items))
    return data


def _slot(name: str, spec: Any, path: Path, line: int | None) -> Slot:
    spec = to_plain(spec) or {}
    if not isinstance(spec, dict):
        raise DataError(f"slot '{name}' must be a mapping with 'type' and 'mappings'", path, line)
    for key in spec:
        if key not in SLOT_KEYS:
            raise DataError(_unknown(key, SLOT_KEYS, f"slot '{name}'"), path, line)
    slot_type = spec.get("type", "any")
    if slot_type not in SLOT_TYPES:
        raise DataError(
            f"slot '{name}': unknown type {slot_type!r}; expected one of {', '.join(SLOT_TYPES)}", path, line
        )
    mappings = tuple(_mapping(name, mapping, path, line) for mapping in spec.get("mappings") or [])
    influence = spec.get("influence_conversation", slot_type != "any")
    if slot_type == "any" and influence:
        raise DataError(f"slot '{name}': a slot of type 'any' cannot influence the conversation", path, line)
    values = tuple(str(v) for v in spec.get("values") or ())
    if slot_type == "categorical" and not values:
        raise DataError(f"slot '{name}': a categorical slot needs 'values'", path, line)
    validator = spec.get("validator")
    return Slot(
        name,
        slot_type,
        values,
        mappings,
        spec.get("initial_value"),
        bool(influence),
        float(spec.get("min_value", 0.0)),
        float(spec.get("max_value", 1.0)),
        str(validator) if validator else None,
    )


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _mapping(slot: str, mapping: Any, path: Path, line: int | None) -> SlotMapping:
    if not isinstance(mapping, dict) or mapping.get("type") not in MAPPING_TYPES:
        raise DataError(
            f"slot '{slot}': each mapping needs a type out of {', '.join(MAPPING_TYPES)}", path, line
        )
    for key in mapping:
        if key not in MAPPING_KEYS:
            raise DataError(_unknown(str(key), MAPPING_KEYS, f"a mapping of slot '{slot}'"), path, line)
    kind = mapping["type"]
    if kind == "from_entity" and not mapping.get("entity"):
        raise DataError(f"slot '{slot}': a from_entity mapping needs 'entity'", path, line)
    if kind in ("from_intent", "from_trigger_intent") and "value" not in mapping:
        raise DataError(f"slot '{slot}': a {kind} mapping needs 'value'", path, line)
    conditions = []
    for condition in mapping.get("conditions") or []:
        if not isinstance(condition, dict) or "active_loop" not in condition:
            raise DataError(f"slot '{slot}': each mapping condition needs 'active_loop'", path, line)
        loop, requested = condition.get("active_loop"), condition.get("requested_slot")
        conditions.append(MappingCondition(None if loop is None else str(loop), requested and str(requested)))
    return SlotMapping(
        type=kind,
        entity=mapping.get("entity"),
        intent=_names(mapping.get("intent")),
        value=mapping.get("value"),
        not_intent=_names(mapping.get("not_intent")),
        role=mapping.get("role"),
        group=mapping.get("group"),
        conditions=tuple(conditions),
        action=mapping.get("action"),
    )


def _form(name: str, spec: Any, path: Path, line: int | None) -> Form:
    spec = to_plain(spec) or {}
    required = spec.get("required_slots") if isinstance(spec, dict) else None
    if isinstance(required, dict):  # Rasa 2's shape: slot -> mappings (the mappings live on slots now)
        required = list(required)
    if not isinstance(required, list) or not required:
        raise DataError(f"form '{name}' needs a non-empty 'required_slots' list", path, line)
    for key in spec:
        if key not in ("required_slots", "ignored_intents"):
            raise DataError(
                _unknown(str(key), ("required_slots", "ignored_intents"), f"form '{name}'"), path, line
            )
    return Form(name, tuple(str(s) for s in required), _names(spec.get("ignored_intents")))


def _has_checkpoint(item: Any) -> bool:
    steps = item.get("steps") if isinstance(item, dict) else None
    return isinstance(steps, list) and any(isinstance(s, dict) and "checkpoint" in s for s in steps)


def _flows(kind: str, item: Any, path: Path, line: int | None) -> list[Flow]:
    """One rule or story; ``or`` steps make one flow per alternative (named "name (1)", ...)."""
    label = "rule" if kind == "rules" else "story"
    if not isinstance(item, dict) or label not in item:
        raise DataError(f"each item of '{kind}' needs a '{label}:' name and 'steps:'", path, line)
    allowed = RULE_KEYS if label == "rule" else STORY_KEYS
    for key in item:
        if key not in allowed:
            raise DataError(
                _unknown(str(key), allowed, f"{label} '{item[label]}'"), path, line_of(item, [key]) or line
            )
    steps_raw = item.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise DataError(f"{label} '{item[label]}' has no steps", path, line)
    variants: list[list[Step]] = [[]]
    for index, raw_step in enumerate(steps_raw):
        step_line = line_of(steps_raw, [index]) or line
        owner = str(item[label])
        if isinstance(raw_step, dict) and "or" in raw_step:
            options = raw_step["or"]
            if not isinstance(options, list) or not options:
                raise DataError(f"'{owner}': an 'or' step needs a list of alternatives", path, step_line)
            alternatives = [_steps(alt, path, step_line, owner) for alt in options]
            variants = [v + alt for v in variants for alt in alternatives]
            if len(variants) > MAX_OR_EXPANSION:
                raise DataError(
                    f"'{owner}': its 'or' steps stand for more than {MAX_OR_EXPANSION} flows", path, step_line
                )
        else:
            step = _steps(raw_step, path, step_line, owner)
            variants = [v + step for v in variants]
    flows = []
    for number, steps in enumerate(variants, start=1):
        flow = _flow(kind, item, path, line, steps)
        if len(variants) > 1:
            flow = replace(flow, name=f"{flow.name} ({number})")
        flows.append(flow)
    return flows


@dataclass
class _Segment:
    """A part of a story between checkpoints."""

    name: str
    starts: tuple[str, ...]
    steps: list[Step]
    ends: tuple[str, ...]
    path: Path
    line: int | None


def _segments(item: Any, path: Path, line: int | None) -> list[_Segment]:
    if not isinstance(item, dict) or "story" not in item or not isinstance(item.get("steps"), list):
        raise DataError("each item of 'stories' needs a 'story:' name and 'steps:'", path, line)
    name = str(item["story"])
    result: list[_Segment] = []
    starts: list[str] = []
    steps: list[Step] = []
    leading = True
    for index, raw in enumerate(item["steps"]):
        step_line = line_of(item["steps"], [index]) or line
        if isinstance(raw, dict) and "checkpoint" in raw:
            if leading:
                starts.append(str(raw["checkpoint"]))
                continue
            result.append(_Segment(name, tuple(starts), steps, (str(raw["checkpoint"]),), path, line))
            starts, steps, leading = [str(raw["checkpoint"])], [], True
            continue
        if isinstance(raw, dict) and "or" in raw:
            raise DataError(
                f"'{name}': 'or' steps and checkpoints in one story are not supported", path, step_line
            )
        leading = False
        steps.extend(_steps(raw, path, step_line, name))
    if steps or not result:  # else the story ended on a checkpoint: its last segment carries it
        result.append(_Segment(name, tuple(starts), steps, (), path, line))
    return result


def _stitch_checkpoints(items: list[tuple[Any, Path, int | None]]) -> list[Flow]:
    """Rasa's story graph: a story ending at checkpoint X goes on with every story starting at X."""
    segments = [s for item, path, line in items for s in _segments(item, path, line)]
    by_start: dict[str, list[_Segment]] = {}
    for segment in segments:
        for start in segment.starts:
            by_start.setdefault(start, []).append(segment)
    flows: list[Flow] = []

    def walk(path: list[_Segment], count: list[int]) -> None:
        last = path[-1]
        nexts = [s for end in last.ends for s in by_start.get(end, []) if s not in path]
        if not nexts or count[0] >= MAX_CHECKPOINT_PATHS:
            count[0] += 1
            steps = tuple(step for segment in path for step in segment.steps)
            if any(s.kind == "action" for s in steps):
                name = " > ".join(dict.fromkeys(s.name for s in path))
                flows.append(Flow(name, "story", steps, source=str(path[0].path), line=path[0].line))
            return
        for segment in nexts:
            walk([*path, segment], count)

    for root in (s for s in segments if not s.starts):
        walk([root], [0])
    return flows


def _flow(kind: str, item: Any, path: Path, line: int | None, steps: list[Step] | None = None) -> Flow:
    label = "rule" if kind == "rules" else "story"
    allowed = RULE_KEYS if label == "rule" else STORY_KEYS
    for key in item:
        if key not in allowed:
            raise DataError(
                _unknown(str(key), allowed, f"{label} '{item[label]}'"), path, line_of(item, [key]) or line
            )
    if steps is None:
        steps = []
        for index, raw_step in enumerate(item.get("steps") or []):
            steps.extend(_steps(raw_step, path, line_of(item["steps"], [index]) or line, str(item[label])))
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
        entities = []
        for entry in raw.get("entities") or []:  # "- order_number" or "- order_number: 123"
            entities.append(str(next(iter(entry))) if isinstance(entry, dict) else str(entry))
        return [Step("intent", str(raw["intent"]), tuple(entities), line=line)]
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
                result.append(Step("slot", str(entry), SLOT_IS_SET, line))
        return result
    if "checkpoint" in raw:
        raise DataError(f"'{owner}': checkpoints belong in stories, not rules", path, line)
    if "or" in raw:
        raise DataError(f"'{owner}': an 'or' step cannot be nested or used in a condition", path, line)
    if "user" in raw or "bot" in raw:
        raise DataError(
            f"'{owner}': end-to-end 'user:'/'bot:' text belongs in test stories (tests/test_*.yml)",
            path,
            line,
        )
    keys = ", ".join(str(k) for k in raw)
    raise DataError(
        f"'{owner}': unknown step ({keys}); expected intent, action, slot_was_set, active_loop, or, "
        "checkpoint",
        path,
        line,
    )


def retrieval_base(intent: str) -> str:
    """``faq/ask_price`` (a retrieval intent) -> ``faq``, the intent rules and stories name."""
    return intent.split("/", 1)[0]


def validate_references(data: DialogueData, intents: set[str], actions: set[str]) -> None:
    """Every intent, action and slot a flow names must exist."""
    known_intents = intents | {retrieval_base(i) for i in intents} | set(data.intents)
    retrieval_actions = {"utter_" + retrieval_base(a[len("utter_") :]) for a in actions if "/" in a}
    known = {
        "intent": known_intents,
        "action": actions | retrieval_actions | set(data.forms) | set(data.actions) | set(data.http_actions),
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
        for required in form.required_slots:
            if required not in data.slots:
                raise DataError(
                    f"form '{form.name}' requires slot '{required}', which is not declared under slots:"
                )
    for slot in data.slots.values():
        for mapping in slot.mappings:
            for intent in (*mapping.intent, *mapping.not_intent):
                if intent not in known_intents:
                    raise DataError(f"slot '{slot.name}': a mapping names unknown intent '{intent}'")
            for condition in mapping.conditions:
                if condition.active_loop is not None and condition.active_loop not in data.forms:
                    raise DataError(
                        f"slot '{slot.name}': a mapping condition names unknown form "
                        f"'{condition.active_loop}'"
                    )


def _hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unknown(key: str, allowed: Iterable[str], where: str) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
    return f"unknown key '{key}' in {where}; {hint}"
