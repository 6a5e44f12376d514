"""Training data: Rasa 3 NLU YAML (intents, regex, lookup, synonym) plus responses.

Files are read into one in-memory :class:`TrainingData`; every problem is reported
with the file and the line, the way an editor fixing it needs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.yamlio import line_of, load_yaml, to_plain

ANNOTATION = re.compile(r"\[(?P<text>[^\]\[]+)\](?:\((?P<entity>[^)(]*)\)|(?P<json>\{[^{}]*\}))")
ENTITY_NAME = re.compile(r"^[\w\-]+$")
TOP_LEVEL_KEYS = ("version", "nlu", "responses", "entities")
ITEM_KINDS = ("intent", "regex", "lookup", "synonym")
ITEM_KEYS = {"intent": ("intent", "title", "examples", "metadata")}
MAX_TITLE_CHARS = 100
MAX_EXAMPLE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class EntityAnnotation:
    entity: str
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntityAnnotation, ...] = ()
    source: str = ""
    line: int | None = None


@dataclass
class TrainingData:
    """Everything the NLU learns from, plus the responses the bot can say."""

    examples: list[Example] = field(default_factory=list)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased surface -> value
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    declared_entities: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    """intent -> the human title an intent file gives it (``title:``), for "did you mean" buttons."""

    def title(self, intent: str) -> str:
        """The intent's human title; its name with spaces where the file gives none."""
        return self.titles.get(intent) or intent.replace("_", " ")

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    @property
    def entity_names(self) -> list[str]:
        names = {a.entity for e in self.examples for a in e.entities}
        names.update(self.regexes, self.lookups)
        return sorted(names)

    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    def labels(self) -> list[str]:
        return [e.intent for e in self.examples]

    def subset(self, indexes: Iterable[int]) -> TrainingData:
        return TrainingData(
            examples=[self.examples[i] for i in indexes],
            regexes=self.regexes,
            lookups=self.lookups,
            synonyms=self.synonyms,
            responses=self.responses,
            declared_entities=self.declared_entities,
            sources=self.sources,
            titles=self.titles,
        )

    def fingerprint(self) -> str:
        """Changes exactly when something the NLU learns from changes."""
        payload = {
            "examples": sorted(
                (e.text, e.intent, [(a.entity, a.start, a.end, a.value) for a in e.entities])
                for e in self.examples
            ),
            "regexes": {k: sorted(v) for k, v in sorted(self.regexes.items())},
            "lookups": {k: sorted(v) for k, v in sorted(self.lookups.items())},
            "synonyms": sorted(self.synonyms.items()),
            "responses": self.responses,
        }
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> TrainingData:
        return cls(examples=[Example(text=t, intent=i) for t, i in pairs])


def load_training_data(paths: Iterable[Path]) -> TrainingData:
    """Read and merge NLU files; an intent may be spread over several files."""
    data = TrainingData()
    for path in sorted(paths):
        _read_file(path, data)
    return data


def intent_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise DataError("intents directory not found", directory)
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        raise DataError("no *.yml files with intents", directory)
    return files


def _read_file(path: Path, data: TrainingData) -> None:
    raw = load_yaml(path, DataError)
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise DataError("expected a mapping with 'nlu:' and/or 'responses:' at the top", path, 1)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise DataError(_unknown(str(key), TOP_LEVEL_KEYS, "at the top"), path, line_of(raw, [key]))
    data.sources.append(str(path))
    items = raw.get("nlu") or []
    if not isinstance(items, list):
        raise DataError(
            "'nlu' must be a list of intent/regex/lookup/synonym items", path, line_of(raw, ["nlu"])
        )
    for index, item in enumerate(items):
        _read_item(item, path, line_of(raw, ["nlu", index]), data)
    declared = raw.get("entities") or []
    if not isinstance(declared, list) or not all(isinstance(e, str) for e in declared):
        raise DataError("'entities' must be a list of entity names", path, line_of(raw, ["entities"]))
    data.declared_entities.update(declared)
    responses = raw.get("responses") or {}
    if not isinstance(responses, dict):
        raise DataError(
            "'responses' must be a mapping of utter_<name> to variants", path, line_of(raw, ["responses"])
        )
    for name, variants in responses.items():
        data.responses[str(name)] = _read_response(str(name), variants, path, line_of(responses, [name]))


def _read_item(item: Any, path: Path, line: int | None, data: TrainingData) -> None:
    if not isinstance(item, dict):
        raise DataError("each 'nlu' item must be a mapping like 'intent: NAME' + 'examples: |'", path, line)
    kinds = [k for k in ITEM_KINDS if k in item]
    if len(kinds) != 1:
        keys = ", ".join(str(k) for k in item)
        hint = ""
        for key in item:
            close = difflib.get_close_matches(str(key), ITEM_KINDS, n=1)
            if close and key != "examples":
                hint = f"; did you mean '{close[0]}'?"
        raise DataError(f"expected exactly one of {', '.join(ITEM_KINDS)} (got: {keys}){hint}", path, line)
    kind = kinds[0]
    allowed = ITEM_KEYS.get(kind, (kind, "examples"))
    for key in item:
        if key not in allowed:
            raise DataError(_unknown(str(key), allowed, f"this {kind} item"), path, line_of(item, [key]))
    name = item[kind]
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"'{kind}' needs a name", path, line)
    examples = item.get("examples")
    if not isinstance(examples, str):
        raise DataError(
            f"{kind} '{name}': 'examples' must be a block of '- ' lines (use 'examples: |')", path, line
        )
    block_line = line_of(item, ["examples"])
    lines = _example_lines(examples, path, block_line, f"{kind} '{name}'")
    if kind == "intent":
        metadata = item.get("metadata")
        if "title" in item or (isinstance(metadata, dict) and "title" in metadata):
            # ``title:`` (botdesk) or ``metadata: {title: ...}`` (any Rasa file can carry it)
            title = item["title"] if "title" in item else metadata["title"]  # type: ignore[index]
            if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
                raise DataError(
                    f"intent '{name}': 'title' must be a short text (up to {MAX_TITLE_CHARS} characters)",
                    path,
                    line_of(item, ["title"]),
                )
            data.titles[name] = " ".join(title.split())
        for text, ex_line in lines:
            plain, annotations = parse_annotations(text, path, ex_line)
            data.examples.append(Example(plain, name, annotations, str(path), ex_line))
    elif kind == "regex":
        for pattern, ex_line in lines:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DataError(
                    f"regex '{name}': invalid pattern {pattern!r}: {exc}", path, ex_line
                ) from None
            data.regexes.setdefault(name, []).append(pattern)
    elif kind == "lookup":
        data.lookups.setdefault(name, []).extend(text for text, _ in lines)
    else:
        for text, _ in lines:
            data.synonyms[text.lower()] = name


def _example_lines(block: str, path: Path, block_line: int | None, what: str) -> list[tuple[str, int | None]]:
    result = []
    for offset, raw_line in enumerate(block.splitlines()):
        stripped = raw_line.strip()
        line = block_line + 1 + offset if block_line is not None else None
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("- "):
            raise DataError(f"{what}: each example must start with '- ', got {stripped[:40]!r}", path, line)
        text = stripped[2:].strip()
        if len(text) > MAX_EXAMPLE_CHARS:
            raise DataError(f"{what}: example longer than {MAX_EXAMPLE_CHARS} characters", path, line)
        if text:
            result.append((text, line))
    return result


def parse_annotations(
    text: str, path: Path | None = None, line: int | None = None
) -> tuple[str, tuple[EntityAnnotation, ...]]:
    """``"в [Казань](city)"`` -> plain text and the entity spans in it."""
    annotations: list[EntityAnnotation] = []
    plain_parts: list[str] = []
    cursor = 0
    plain_len = 0
    for match in ANNOTATION.finditer(text):
        before = text[cursor : match.start()]
        plain_parts.append(before)
        plain_len += len(before)
        surface = match.group("text")
        entity, value = _annotation_target(match, surface, path, line)
        annotations.append(EntityAnnotation(entity, plain_len, plain_len + len(surface), value))
        plain_parts.append(surface)
        plain_len += len(surface)
        cursor = match.end()
    plain_parts.append(text[cursor:])
    plain = "".join(plain_parts)
    if "](" in plain or ("[" in plain and "]{" in plain):
        raise DataError(f"malformed entity annotation in {text!r}; expected [text](entity)", path, line)
    return plain, tuple(annotations)


def _annotation_target(
    match: re.Match[str], surface: str, path: Path | None, line: int | None
) -> tuple[str, str]:
    if match.group("json") is not None:
        try:
            spec = json.loads(match.group("json"))
        except json.JSONDecodeError:
            raise DataError(f"entity annotation {match.group(0)!r} is not valid JSON", path, line) from None
        if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
            raise DataError(f'entity annotation {match.group(0)!r} needs an "entity" name', path, line)
        entity, value = spec["entity"], str(spec.get("value", surface))
    else:
        entity, value = (match.group("entity") or "").strip(), surface
    if not ENTITY_NAME.match(entity):
        raise DataError(
            f"entity annotation {match.group(0)!r} has an invalid entity name {entity!r}", path, line
        )
    return entity, value


def _read_response(name: str, variants: Any, path: Path, line: int | None) -> list[dict[str, Any]]:
    if not name.startswith("utter_"):
        raise DataError(f"response '{name}' must be named utter_<something>", path, line)
    if not isinstance(variants, list) or not variants:
        raise DataError(f"response '{name}' must be a list of variants like '- text: ...'", path, line)
    result = []
    for index, variant in enumerate(variants):
        if not isinstance(variant, dict) or not any(
            k in variant for k in ("text", "image", "custom", "buttons")
        ):
            raise DataError(
                f"response '{name}' variant {index + 1} needs a 'text'",
                path,
                line_of(variants, [index]) or line,
            )
        result.append(to_plain(variant))
    return result


def _unknown(key: str, allowed: Iterable[str], where: str) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
    return f"unknown key '{key}' in {where}; {hint}"


def load_jsonl(path: Path) -> list[tuple[str, str]]:
    """External benchmark data: one ``{"text", "intent"}`` object per line."""
    if not path.is_file():
        raise DataError("file not found", path)
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for number, raw_line in enumerate(handle, start=1):
            if not raw_line.strip():
                continue
            try:
                obj = json.loads(raw_line)
            except json.JSONDecodeError as exc:
                raise DataError(f"not a JSON object: {exc.msg}", path, number) from None
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("text"), str)
                or not isinstance(obj.get("intent"), str)
            ):
                raise DataError('expected {"text": "...", "intent": "..."}', path, number)
            pairs.append((obj["text"], obj["intent"]))
    if not pairs:
        raise DataError("no examples in file", path)
    return pairs
