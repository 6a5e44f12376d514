"""Rasa test stories -> botdesk's tests/*.yml (``botdesk test``).

botdesk tests send text and check the replies: intent-only steps become button payloads,
form steps become the question the form asks, and what botdesk test cannot check
(slots, active loops, entities, custom actions) is left out with a note.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from bot.dialogue.stories import REQUESTED_SLOT
from bot.errors import DataError
from bot.interop.rasa_import.notes import Drop
from bot.interop.rasa_import.state import DEFAULT_RESPONSE, YAML_SUFFIXES, Conversion, response_name, unique
from bot.nlu.data import parse_annotations
from bot.yamlio import line_of, load_yaml, to_plain


def read_tests(conv: Conversion) -> None:
    """The test stories under ``tests/`` (those in ``data/test_*.yml`` are read with the data)."""
    directory = conv.root / "tests"
    if not directory.is_dir():
        return
    for path in sorted(p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES):
        raw = load_yaml(path, DataError)
        if isinstance(raw, dict):
            read_tests_file(conv, path, raw)


def read_tests_file(conv: Conversion, path: Path, raw: Any) -> None:
    stories = []
    if raw.get("rules"):
        conv.note("dropped", "test rules are not run by botdesk test", path, line_of(raw, ["rules"]))
    for index, item in enumerate(raw.get("stories") or []):
        line = line_of(raw, ["stories", index])
        name = str(item.get("story", f"story at line {line}")) if isinstance(item, dict) else "?"
        try:
            stories.append({"story": name, "steps": _test_steps(conv, item, path, name)})
        except Drop as exc:
            conv.note("dropped", f"test story '{name}' left out: {exc}", path, line)
    if stories:
        stem = path.stem if path.stem.startswith("test_") else f"test_{path.stem}"
        conv.test_files[unique(stem, conv.test_files, ())] = stories


def _test_steps(conv: Conversion, item: Any, path: Path, name: str) -> list[dict[str, Any]]:
    plain = to_plain(item)
    steps = plain.get("steps") if isinstance(plain, dict) else None
    if not isinstance(steps, list) or not steps:
        raise Drop("it has no steps")
    result: list[dict[str, Any]] = []
    skipped: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise Drop("a step is not a mapping")
        line = line_of(item.get("steps"), [index])
        if "user" in step or "intent" in step:
            result.append(_user_step(conv, step, path, line, name))
        elif "action" in step:
            result += _action(conv, str(step["action"]), steps[index + 1 :], path, line, name)
        elif "slot_was_set" in step or "active_loop" in step:
            skipped.add(next(k for k in ("slot_was_set", "active_loop") if k in step))
        elif "bot" in step:
            raise Drop("end-to-end 'bot:' text steps are not supported")
        else:
            raise Drop(f"unsupported step ({', '.join(step)})")
    if skipped:
        conv.note(
            "dropped",
            f"test story '{name}': {' and '.join(sorted(skipped))} expectations are not checked by "
            "botdesk test and were left out",
            path,
            line_of(item, ["steps"]),
        )
    if not any("user" in s for s in result):
        raise Drop("it has no user messages")
    return result


def _user_step(
    conv: Conversion, step: dict[str, Any], path: Path, line: int | None, name: str
) -> dict[str, Any]:
    intent = step.get("intent")
    intent = conv.retrieval.get(str(intent), str(intent)) if intent is not None else None
    if "user" not in step:
        conv.note(
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
        conv.note("dropped", f"test story '{name}': entities are not checked by botdesk test", path, line)
    return result


def _action(
    conv: Conversion, name: str, rest: list[Any], path: Path, line: int | None, story: str
) -> list[dict[str, Any]]:
    name = response_name(name)
    if name == "action_listen":
        return []
    if name == "action_default_fallback":
        return [{"action": DEFAULT_RESPONSE}]
    if name in conv.forms:
        asked = _requested_slot(rest)
        if asked:
            return [{"action": f"utter_ask_{asked}"}]
        conv.note(
            "dropped",
            f"test story '{story}': the form step {name} is not a reply botdesk test can check",
            path,
            line,
        )
        return []
    if name.startswith("utter_") or name == "action_handoff":
        return [{"action": name}]
    conv.note(
        "dropped",
        f"test story '{story}': expected action {name} left out (botdesk cannot run it)",
        path,
        line,
    )
    return []


def _requested_slot(rest: list[Any]) -> str | None:
    """The slot a form asks for next, from the ``slot_was_set`` steps right after it."""
    for step in rest:
        if not isinstance(step, dict) or not ("slot_was_set" in step or "active_loop" in step):
            return None
        for entry in step.get("slot_was_set") or []:
            if isinstance(entry, dict) and entry.get(REQUESTED_SLOT):
                return str(entry[REQUESTED_SLOT])
    return None
