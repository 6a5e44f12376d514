"""Rasa NLU data -> botdesk's intents/*.yml: examples, synonyms, regexes and lookups.

Retrieval intents (``faq/parking``) keep their names (the engine answers them as Rasa's
ResponseSelector does, with ``utter_faq/parking``); Rasa's
entity markup is rewritten to botdesk's (``[Paris](city:Paris)`` shorthand written out,
roles and groups dropped) and every example must then parse as botdesk training data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.interop.rasa_export import _block, annotate
from bot.interop.rasa_import.state import Conversion, unique
from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.data import ANNOTATION, MAX_EXAMPLE_CHARS, EntityAnnotation, Example, parse_annotations
from bot.yamlio import line_of


def read_nlu(conv: Conversion, path: Path, raw: Any) -> None:
    """The ``nlu:`` items of one data file become one botdesk intents file."""
    items: list[dict[str, Any]] = []
    for index, item in enumerate(raw["nlu"]):
        line = line_of(raw, ["nlu", index])
        converted = _nlu_item(conv, item, path, line)
        if converted is not None:
            items.append(converted)
    if items:
        conv.nlu_files[unique(path.stem, conv.nlu_files, ("responses", "botdesk"))] = items


def _nlu_item(conv: Conversion, item: Any, path: Path, line: int | None) -> dict[str, Any] | None:
    kinds = [k for k in ("intent", "synonym", "regex", "lookup") if isinstance(item, dict) and k in item]
    if len(kinds) != 1:
        conv.note("dropped", "an nlu item that is not one intent/synonym/regex/lookup left out", path, line)
        return None
    kind = kinds[0]
    name = str(item[kind])
    if kind == "intent" and "/" in name:  # a retrieval intent: kept, answered by utter_<name>
        conv.retrieval[name] = name
        conv.retrieval_lines.setdefault(name.split("/", 1)[0], (path, line))
    lines: list[str] = []
    for text, ex_line in _example_lines(item.get("examples"), line_of(item, ["examples"])):
        converted = _example(conv, text, kind, path, ex_line)
        if converted is not None:
            lines.append(converted)
    if not lines:
        conv.note("dropped", f"{kind} '{name}' has no usable examples and was left out", path, line)
        return None
    if kind == "intent":
        conv.intents.add(name)
    return {kind: name, "examples": _block(lines)}


def _example(conv: Conversion, text: str, kind: str, path: Path, line: int | None) -> str | None:
    if len(text) > MAX_EXAMPLE_CHARS:
        conv.note("dropped", f"example longer than {MAX_EXAMPLE_CHARS} characters left out", path, line)
        return None
    if kind == "regex":
        try:
            re.compile(text)
        except re.error as exc:
            conv.note("dropped", f"regex {text!r} is not a valid pattern ({exc})", path, line)
            return None
        return text
    if kind != "intent":
        return text
    converted, dropped = _convert_annotations(text)
    for what in dropped:
        conv.note("dropped", f"{what} dropped: botdesk has no entity roles or groups", path, line)
    try:
        parse_annotations(converted)
    except DataError as exc:
        conv.note("dropped", f"example left out: {exc.message}", path, line)
        return None
    return converted


def report_intents(conv: Conversion) -> None:
    """Domain intents without examples are declared (reachable by a button's ``/intent`` payload)."""
    bases = set(conv.retrieval_lines)
    for name in conv.domain_intents:
        if name not in conv.intents and name not in bases and name != FALLBACK_INTENT:
            conv.declared_intents.append(name)


def _example_lines(block: Any, block_line: int | None) -> list[tuple[str, int | None]]:
    """Rasa's ``examples: |`` block (or a list of ``text:`` items) -> texts with their lines.

    More lenient than botdesk's own reader (bot.nlu.data): a line without ``- `` is taken as
    it is, and an over-long example is a note rather than an error.
    """
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
    """Rasa's entity markup -> botdesk's (no roles/groups; ``(entity:value)`` as JSON).

    Markup that is not Rasa's is left as it is, for :func:`parse_annotations` to judge.
    """
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
        # Spelled the way `botdesk export rasa` spells botdesk's markup.
        return annotate(Example(surface, "", (EntityAnnotation(entity, 0, len(surface), value),)))

    return ANNOTATION.sub(rewrite, text), dropped
