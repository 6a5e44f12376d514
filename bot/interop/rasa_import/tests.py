"""Rasa test stories -> botdesk's tests/*.yml (``botdesk test``).

``botdesk test`` runs Rasa's test-story format as it is (intent-only steps as payloads,
forms, custom actions, ``slot_was_set`` and ``active_loop`` checked), so test stories are
copied unchanged; only end-to-end ``bot:`` text steps and Rasa default actions botdesk
lacks are reported (``action_two_stage_fallback`` stays: botdesk's "did you mean" turns list it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.interop.rasa_import.notes import Drop
from bot.interop.rasa_import.state import (
    RASA_DEFAULT_ACTIONS,
    TWO_STAGE_FALLBACK,
    YAML_SUFFIXES,
    Conversion,
    unique,
)
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
    """Rasa test steps as they are (botdesk test reads Rasa's format); ``bot:`` text is not run."""
    plain = to_plain(item)
    steps = plain.get("steps") if isinstance(plain, dict) else None
    if not isinstance(steps, list) or not steps:
        raise Drop("it has no steps")
    result: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise Drop("a step is not a mapping")
        line = line_of(item.get("steps"), [index])
        if "bot" in step:
            raise Drop("end-to-end 'bot:' text steps are not supported")
        if "action" in step and str(step["action"]) in RASA_DEFAULT_ACTIONS - {TWO_STAGE_FALLBACK}:
            conv.note(
                "dropped",
                f"test story '{name}': expected action {step['action']} left out (botdesk does not run it)",
                path,
                line,
            )
            continue
        if not any(k in step for k in ("user", "intent", "action", "slot_was_set", "active_loop")):
            raise Drop(f"unsupported step ({', '.join(step)})")
        result.append(step)
    if not any("user" in s or "intent" in s for s in result):
        raise Drop("it has no user messages")
    return result
