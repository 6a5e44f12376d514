"""What the import could not carry over, or carried over differently, with the Rasa file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

NoteKind = Literal["dropped", "changed"]


@dataclass(frozen=True)
class Note:
    """One thing the import could not carry over ("dropped") or carried over differently."""

    kind: NoteKind
    message: str
    source: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        return f"{where}: {self.message}" if where else self.message


class Drop(Exception):
    """This rule, story or test story cannot be carried over; the message says why."""


class Reporter:
    """Collects notes, naming each Rasa file relative to the project root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.notes: list[Note] = []

    def note(self, kind: NoteKind, message: str, path: Path | None = None, line: int | None = None) -> None:
        source = ""
        if path is not None:
            source = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        self.notes.append(Note(kind, message, source, line))
