"""Rasa rules and stories -> botdesk's stories/*.yml.

Rules and stories carry over as written: ``or`` steps, checkpoints, entities on intent
steps, custom actions (run on the action server), forms and retrieval actions. Steps
botdesk cannot run (Rasa's default actions it lacks, undeclared names) are left out with
a note, and a flow with nothing left to run or with end-to-end text is dropped.
Rules for the NLU fallback are left out with a note, and the ``answer X`` rules that
``botdesk export rasa`` writes are left out silently: botdesk does both by itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.dialogue.stories import REQUESTED_SLOT
from bot.interop.rasa_import.notes import Drop
from bot.interop.rasa_import.state import (
    DEFAULT_RESPONSE,
    RASA_DEFAULT_ACTIONS,
    TWO_STAGE_FALLBACK,
    Conversion,
    Flows,
    unique,
)
from bot.nlu.base import FALLBACK_INTENT
from bot.project import BUILTIN_ACTIONS
from bot.yamlio import line_of, to_plain


def read_flows(conv: Conversion, sources: list[tuple[Path, Any]]) -> None:
    """The rules and stories of each data file; read after the NLU data, which they name."""
    for path, raw in sources:
        flows = Flows()
        for kind in ("rules", "stories"):
            for index, item in enumerate(raw.get(kind) or []):
                line = line_of(raw, [kind, index])
                target = flows.rules if kind == "rules" else flows.stories
                target.extend(_flow(conv, kind, item, path, line))
        if flows.rules or flows.stories:
            conv.flow_files[unique(path.stem, conv.flow_files, ("slots", "triggers"))] = flows


def _flow(conv: Conversion, kind: str, item: Any, path: Path, line: int | None) -> list[dict[str, Any]]:
    label = "rule" if kind == "rules" else "story"
    if not isinstance(item, dict) or label not in item or not isinstance(item.get("steps"), list):
        conv.note("dropped", f"a {label} without a name or steps was left out", path, line)
        return []
    name = str(item[label])
    where = f"{label} '{name}'"
    plain_steps = to_plain(item["steps"])
    if _fallback_rule(conv, plain_steps, where, path, line) or _generated_rule(conv, label, name, item):
        return []
    try:
        steps = _steps(conv, item["steps"], path, where)
        conditions = _steps(conv, item.get("condition") or [], path, where)
    except Drop as exc:
        conv.note("dropped", f"{where} left out: {exc}", path, line)
        return []
    if not any("action" in s or "or" in s for s in steps):
        conv.note("dropped", f"{where} left out: no step botdesk can run remains", path, line)
        return []
    flow: dict[str, Any] = {label: name}
    if label == "rule" and item.get("conversation_start"):
        flow["conversation_start"] = True
    if label == "rule" and conditions:
        flow["condition"] = conditions
    flow["steps"] = steps
    if label == "rule" and item.get("wait_for_user_input") is False:
        flow["wait_for_user_input"] = False
    return [flow]


def _fallback_rule(conv: Conversion, steps: Any, where: str, path: Path, line: int | None) -> bool:
    """A flow that starts at nlu_fallback: botdesk handles that message itself."""
    if not steps or not isinstance(steps[0], dict) or steps[0].get("intent") != FALLBACK_INTENT:
        return False
    actions = {s.get("action") for s in steps[1:] if isinstance(s, dict)}
    if TWO_STAGE_FALLBACK in actions:
        conv.settings.two_stage_fallback = True
        conv.note(
            "changed",
            f'{where} became the escalation rule two_stage_fallback: botdesk asks "did you mean ...?" '
            'with a button per competing intent (their metadata.title) and one for "something else" '
            "(/out_of_scope, then utter_ask_rephrase), and hands the second message it does not "
            "understand in a row to a person instead of saying utter_default",
            path,
            line,
        )
        return True
    plain = actions <= {DEFAULT_RESPONSE, "action_default_fallback", "action_listen"}
    conv.note(
        "changed" if plain else "dropped",
        f"{where} left out: botdesk answers a message it does not understand with bot.fallback "
        "(utter_default's text) itself, and hands off after repeated misunderstandings",
        path,
        line,
    )
    return True


def _generated_rule(conv: Conversion, label: str, name: str, item: Any) -> bool:
    """``answer X`` rules that ``botdesk export rasa`` writes for botdesk's default answer."""
    match = re.fullmatch(r"answer (\S+)", name)
    if label != "rule" or match is None or item.get("condition") or item.get("conversation_start"):
        return False
    intent, answer = match.group(1), f"utter_{match.group(1)}"
    if intent not in conv.intents or answer not in conv.responses:
        return False
    return bool(to_plain(item["steps"]) == [{"intent": intent}, {"action": answer}])


def _steps(conv: Conversion, steps: Any, path: Path, where: str) -> list[dict[str, Any]]:
    """Steps as botdesk reads them; ``or`` alternatives and checkpoints stay as written."""
    result: list[dict[str, Any]] = []
    for index, raw in enumerate(steps):
        line = line_of(steps, [index])
        if isinstance(raw, dict) and "or" in raw:
            alternatives = [s for alt in raw["or"] or [] for s in _step(conv, alt, path, line, where)]
            if alternatives:
                result.append({"or": alternatives})
        elif isinstance(raw, dict) and "checkpoint" in raw:
            result.append({"checkpoint": str(raw["checkpoint"])})
        else:
            result += _step(conv, raw, path, line, where)
    return result


def _step(conv: Conversion, raw: Any, path: Path, line: int | None, where: str) -> list[dict[str, Any]]:
    raw = to_plain(raw)
    if not isinstance(raw, dict):
        raise Drop(f"a step at line {line} is not a mapping")
    if "user" in raw or "bot" in raw:
        raise Drop("end-to-end 'user:'/'bot:' text steps are not supported")
    if "intent" in raw:
        return [_intent_step(conv, raw, path, line, where)]
    if "action" in raw:
        return _action_step(conv, str(raw["action"]), path, line, where)
    if "slot_was_set" in raw:
        return _slot_step(conv, raw["slot_was_set"], path, line, where)
    if "active_loop" in raw:
        loop = raw["active_loop"]
        if loop is not None and str(loop) not in conv.forms:
            conv.note("dropped", f"{where}: step active_loop {loop} (unknown form) left out", path, line)
            return []
        return [{"active_loop": None if loop is None else str(loop)}]
    raise Drop(f"unknown step ({', '.join(str(k) for k in raw)})")


def _intent_step(
    conv: Conversion, raw: dict[str, Any], path: Path, line: int | None, where: str
) -> dict[str, Any]:
    name = str(raw["intent"])
    if name == FALLBACK_INTENT:
        raise Drop("botdesk handles nlu_fallback itself (bot.fallback, then a hand-off)")
    known = conv.intents | set(conv.declared_intents) | {k.split("/", 1)[0] for k in conv.retrieval}
    if name not in known:
        raise Drop(f"intent '{name}' is neither in the domain nor in the NLU data")
    step: dict[str, Any] = {"intent": name}
    if raw.get("entities"):
        step["entities"] = raw["entities"]
    return step


def _action_step(
    conv: Conversion, name: str, path: Path, line: int | None, where: str
) -> list[dict[str, Any]]:
    retrieval = {"utter_" + k.split("/", 1)[0] for k in conv.retrieval}
    known = set(conv.responses) | set(conv.forms) | BUILTIN_ACTIONS | conv.custom_actions | retrieval
    if name in known:
        if name == DEFAULT_RESPONSE:
            conv.uses_default = True
        return [{"action": name}]
    if name in RASA_DEFAULT_ACTIONS:
        conv.note("dropped", f"{where}: Rasa's {name} has no botdesk equivalent; step left out", path, line)
        return []
    what = "action" if not name.startswith("utter_") else "response"
    conv.note("dropped", f"{where}: unknown {what} {name} (not in the domain) left out", path, line)
    return []


def _slot_step(
    conv: Conversion, entries: Any, path: Path, line: int | None, where: str
) -> list[dict[str, Any]]:
    kept: list[Any] = []
    for entry in entries or []:
        names = list(entry) if isinstance(entry, dict) else [entry]
        for name in names:
            if str(name) not in conv.slots and str(name) != REQUESTED_SLOT:
                conv.note("dropped", f"{where}: slot_was_set {name} (undeclared slot) left out", path, line)
            elif isinstance(entry, dict):
                kept.append({str(name): entry[name]})
            else:
                kept.append(str(name))
    return [{"slot_was_set": kept}] if kept else []
