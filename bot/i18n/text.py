"""A sentence that can be said in another language later: the English text, its message id and values.

Errors and notes are made where the language of whoever reads them is not known (an
escalation rule, an account check, the KPI period parser). They are ``Text``: a ``str``
whose value is the English sentence, so logs, the CLI and any code that treats it as a
string keep working, which also carries its catalog message id and its values, so the
panel can say it in the operator's language (``Translator.text``).

Mark a sentence with ``Text("...{name}...", name=value)``; the catalog extraction knows
the ``Text`` keyword (babel.cfg, ``make i18n``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Blank(dict[str, Any]):
    """Values for ``str.format_map``: a missing placeholder stays as it was written, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with its ``{name}`` placeholders filled in; a broken template comes back as is."""
    if not values or "{" not in template:
        return template
    try:
        return template.format_map(Blank(values))
    except (ValueError, IndexError, AttributeError):
        return template


class Text(str):
    """An English sentence (the ``str`` value) with the message id and values to translate it."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Text:
        made = super().__new__(cls, fill(msgid, values))
        made.msgid = msgid
        made.values = values
        return made

    def to_json(self) -> dict[str, Any]:
        """``{"msgid", "values"}``, to keep with stored data (a ticket's note) and translate when shown."""
        return {"msgid": self.msgid, "values": {k: _plain(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, data: Any) -> Text | None:
        """The ``Text`` kept by ``to_json``; None for anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("msgid"), str):
            return None
        values = data.get("values")
        return cls(data["msgid"], **(values if isinstance(values, dict) else {}))


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
