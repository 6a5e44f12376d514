"""Rasa responses -> botdesk responses, from the domain or a data file.

Retrieval responses (``utter_faq/parking``) become ``utter_faq_parking``; conditional and
channel-specific variants, entities in button payloads and what botdesk's chat does not
show are notes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.interop.rasa_import.state import Conversion, response_name
from bot.yamlio import line_of, to_plain

PAYLOAD = re.compile(r"^/(?P<intent>[^\s{}]+)(?P<entities>\{.*\})?\s*$", re.DOTALL)


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
    if not isinstance(variants, list) or not variants:
        conv.note("dropped", f"response '{name}' has no variants", path, line)
        return []
    plain = [v for v in variants if isinstance(v, dict)]
    special = [v for v in plain if "condition" in v or "channel" in v]
    if special:
        keep_special = len(special) == len(plain)
        conv.note(
            "changed" if keep_special else "dropped",
            f"response '{name}': botdesk has no conditional or channel-specific variants; "
            + (
                "they are kept without their condition/channel and said at random"
                if keep_special
                else f"{len(special)} such variant(s) left out"
            ),
            path,
            line,
        )
        if not keep_special:
            plain = [v for v in plain if v not in special]
    result = []
    for variant in plain:
        clean = {k: v for k, v in variant.items() if k not in ("condition", "channel")}
        if not any(k in clean for k in ("text", "image", "custom", "buttons")):
            conv.note("dropped", f"response '{name}': a variant without text was left out", path, line)
            continue
        unshown = sorted(k for k in clean if k not in ("text", "buttons", "id", "metadata"))
        if unshown:
            conv.note(
                "changed",
                f"response '{name}': {', '.join(unshown)} kept in the file, but botdesk's chat shows "
                "only text and buttons",
                path,
                line,
            )
        if isinstance(clean.get("buttons"), list):
            clean["buttons"] = [_button(conv, b, name, path, line) for b in clean["buttons"]]
        result.append(clean)
    return result


def _button(conv: Conversion, button: Any, name: str, path: Path, line: int | None) -> Any:
    if not isinstance(button, dict) or not isinstance(button.get("payload"), str):
        return button
    match = PAYLOAD.match(button["payload"])
    if match is None:
        return button
    intent = conv.retrieval.get(match.group("intent"), match.group("intent"))
    if match.group("entities"):
        conv.note(
            "dropped",
            f"response '{name}': button payload {button['payload']} sets entities; botdesk payloads "
            f"carry only the intent (/{intent})",
            path,
            line,
        )
    return {**button, "payload": f"/{intent}"}
