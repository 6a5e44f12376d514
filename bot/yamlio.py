"""YAML loading that remembers where every value came from.

Round-trip loading (ruamel.yaml) keeps line numbers, so validation errors can name
the file and the line, and editors' files can later be rewritten without losing
comments or order.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.errors import SourceError

MAX_YAML_BYTES = 20 * 1024 * 1024


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def load_yaml(path: Path, error: type[SourceError]) -> Any:
    """Parse ``path``; a missing, unreadable or broken file raises ``error`` with the line."""
    if not path.is_file():
        raise error("file not found", path)
    if path.stat().st_size > MAX_YAML_BYTES:
        raise error(f"file is larger than {MAX_YAML_BYTES // 1024 // 1024} MB", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise error(f"broken YAML: {problem or 'cannot parse'}", path, line) from None
    except YAMLError as exc:
        raise error(f"broken YAML: {exc}", path) from None


def line_of(node: Any, location: Sequence[str | int]) -> int | None:
    """Best 1-based line for ``location`` (keys/indexes) inside a round-trip node."""
    line: int | None = _own_line(node)
    for part in location:
        if isinstance(node, CommentedMap) and part in node:
            key_line = node.lc.key(part)[0] + 1
            line = key_line
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _own_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return None
    return int(lc.line) + 1


def to_plain(node: Any) -> Any:
    """Round-trip containers to plain dicts/lists (pydantic and JSON want those)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
