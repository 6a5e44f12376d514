"""Catalog extraction (``pybabel extract -F babel.cfg``): Babel's Python and JavaScript extractors,
plus sentences about a person.

``t.gendered(gender, "{name} took the dialogue")`` (Python) and
``gendered(gender, "...")`` (JavaScript) are said in the form that agrees with the
person's grammatical gender. Each such call becomes three catalog entries: the neutral
sentence, and the same id in the contexts ``female`` and ``male`` (``pgettext``), so a
translator writes "взял" and "взяла" and a neutral wording for an unknown gender.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any, cast

from babel.messages.extract import extract_javascript, extract_python

GENDERED = "gendered"
GENDERS = ("female", "male")
Extracted = tuple[int, Any, Any, Any]


def _with_gendered(keywords: Mapping[str, Any] | Collection[str]) -> Any:
    return dict.fromkeys([*keywords, GENDERED])


def _split(found: Iterator[Any]) -> Iterator[Extracted]:
    for lineno, funcname, messages, comments in found:
        if funcname != GENDERED:
            yield lineno, funcname, messages, comments
            continue
        message = messages[1] if isinstance(messages, tuple) and len(messages) > 1 else None
        if not isinstance(message, str):
            continue  # not a literal: nothing to put in the catalog
        yield lineno, "gettext", message, comments
        for gender in GENDERS:
            yield lineno, "pgettext", (gender, message), comments


def extract_python_gendered(
    fileobj: IO[bytes], keywords: Mapping[str, Any] | Collection[str], comment_tags: Collection[str],
    options: dict[str, Any],
) -> Iterator[Extracted]:  # fmt: skip
    """Babel's Python extractor, with ``gendered`` calls split into their three entries."""
    return _split(extract_python(fileobj, _with_gendered(keywords), comment_tags, cast(Any, options)))


def extract_javascript_gendered(
    fileobj: IO[bytes], keywords: Mapping[str, Any] | Collection[str], comment_tags: Collection[str],
    options: dict[str, Any],
) -> Iterator[Extracted]:  # fmt: skip
    """Babel's JavaScript extractor, with ``gendered`` calls split into their three entries."""
    return _split(extract_javascript(fileobj, _with_gendered(keywords), comment_tags, cast(Any, options)))
