"""JSON from outside (request bodies, WebSocket frames): nesting bounded before parsing, content checked.

Python's ``json`` module accepts what later breaks botdesk deep inside a request: lone
surrogates (``"\\ud800"`` is valid JSON syntax but no UTF-8 text: the store, argon2 and
the response encoder fail on it), ``NaN`` and ``Infinity``, and nesting deep enough to
exhaust the interpreter's recursion limit (a ``RecursionError`` from ``json.loads``
itself, or later from ``json.dumps``). ``parse_json_input`` refuses all of them with a
``JsonInputError`` that says what was wrong, before any handler sees the value:

1. nesting is counted on the raw text, brackets outside strings, before anything is
   parsed (a body with no more brackets than the limit, nearly every one, skips the count);
2. orjson parses: it takes only valid UTF-8, no lone surrogates and no NaN, and turns an
   integer beyond 64 bits into a float (an id field then refuses it);
3. only what orjson refused is parsed again by ``json``, to tell the client why: a lone
   surrogate or a NaN is named as such, anything else is "not JSON".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import orjson

from bot.errors import BotdeskError

MAX_JSON_DEPTH = 32
"""Levels of arrays and objects inside each other; botdesk's own payloads use three or four."""

# A JSON string (escapes included) or one bracket: brackets inside strings are not nesting.
_TOKENS_TEXT = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_TOKENS_BYTES = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset("[{") | frozenset(b"[{")


class JsonInputError(BotdeskError):
    """JSON from a client that botdesk refuses; ``syntax`` is True when it is not JSON at all."""

    def __init__(self, detail: str, *, syntax: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.syntax = syntax


def parse_json_input(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``data`` parsed as JSON, or ``JsonInputError``: never a lone surrogate, a NaN or deep nesting."""
    check_nesting(data, max_depth)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson refuses: find out why, to say so
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise JsonInputError("not JSON text (UTF-8)", syntax=True) from None
    refuse_broken_values(value)
    return value


def check_nesting(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """``JsonInputError`` when arrays and objects nest deeper than ``max_depth``, found without parsing."""
    tokens: Iterator[re.Match[Any]]
    if isinstance(data, str):
        brackets = data.count("[") + data.count("{")
        tokens = _TOKENS_TEXT.finditer(data)
    else:
        brackets = data.count(b"[") + data.count(b"{")
        tokens = _TOKENS_BYTES.finditer(data)
    if brackets <= max_depth:
        return
    depth = 0
    for token in tokens:
        first = data[token.start()]
        if first in _OPENING:
            depth += 1
            if depth > max_depth:
                raise JsonInputError(f"the JSON is nested deeper than {max_depth} levels")
        elif token.end() - token.start() == 1:  # a closing bracket (a string is at least "")
            depth -= 1


def refuse_broken_values(value: Any) -> None:
    """``JsonInputError`` for a string that is no UTF-8 text (lone surrogates) or a NaN/Infinity number."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                raise JsonInputError("a string is not valid Unicode text (lone surrogate characters)")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JsonInputError("NaN and Infinity are not JSON numbers")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
