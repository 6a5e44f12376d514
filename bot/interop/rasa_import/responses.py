"""Rasa responses -> botdesk responses, from the domain or a data file.

botdesk reads Rasa's responses as they are: retrieval responses (``utter_faq/parking``),
conditional variants (``condition: - type: slot``), channel variants, images, custom
payloads and buttons whose payloads carry entities. What its channels cannot show is a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.interop.rasa_import.state import Conversion, response_name
from bot.yamlio import line_of, to_plain


def read_responses(conv: Conversion, responses: Any, path: Path) -> None:
    for name, variants in (responses or {}).items():
        line = line_of(responses, [name])
        target = response_name(str(name))
        if not target.startswith("utter_"):
            conv.note("dropped", f"response '{name}' is not named utter_<something>", path, line)
            continue
        kept = _variants(conv, target, to_plain(variants), path, line)
        if kept:
            conv.responses[target] = kept
            conv.response_lines[target] = (path, line)


def _variants(
    conv: Conversion, name: str, variants: Any, path: Path, line: int | None
) -> list[dict[str, Any]]:
    """Variants as they are: conditions (slot constraints), channels, buttons with entity payloads."""
    if not isinstance(variants, list) or not variants:
        conv.note("dropped", f"response '{name}' has no variants", path, line)
        return []
    result = []
    for variant in (v for v in variants if isinstance(v, dict)):
        if not any(k in variant for k in ("text", "image", "custom", "buttons", "attachment")):
            conv.note("dropped", f"response '{name}': a variant without text was left out", path, line)
            continue
        conditions = variant.get("condition") or []
        if any(not isinstance(c, dict) or c.get("type") != "slot" for c in conditions):
            conv.note(
                "dropped",
                f"response '{name}': a variant with a condition other than 'type: slot' was left out",
                path,
                line,
            )
            continue
        unshown = sorted(k for k in variant if k in ("elements", "quick_replies"))
        if unshown:
            conv.note(
                "changed",
                f"response '{name}': {', '.join(unshown)} kept in the file, but botdesk's channels do "
                "not show them",
                path,
                line,
            )
        result.append(dict(variant))
    return result
