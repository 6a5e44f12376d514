"""The CRM stub's storage: one SQLite file, one row per idempotency key.

The UNIQUE key is what makes the stub behave like a careful CRM: a retried push finds
the row it made the first time instead of making a second one, across restarts too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    received_at TEXT NOT NULL,
    card TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class StoredLead:
    id: str
    idempotency_key: str
    received_at: str
    card: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "idempotency_key": self.idempotency_key,
            "received_at": self.received_at,
            "card": self.card,
        }


def _lead_id(seq: int) -> str:
    return f"crm-{seq}"


class StubStore:
    """Short-lived connections per call: safe from any thread, nothing to close."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def add(self, idempotency_key: str, card_json: str) -> tuple[str, bool]:
        """Store a card unless its key is known; returns (id, created)."""
        received_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO leads (idempotency_key, received_at, card) VALUES (?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO NOTHING",
                (idempotency_key, received_at, card_json),
            )
            created = cursor.rowcount == 1
            row = db.execute("SELECT seq FROM leads WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        return _lead_id(int(row[0])), created

    def all(self) -> list[StoredLead]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT seq, idempotency_key, received_at, card FROM leads ORDER BY seq"
            ).fetchall()
        return [StoredLead(_lead_id(seq), key, at, json.loads(card)) for seq, key, at, card in rows]

    def get(self, lead_id: str) -> StoredLead | None:
        seq = lead_id.removeprefix("crm-")
        if not seq.isdigit():
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT seq, idempotency_key, received_at, card FROM leads WHERE seq = ?", (int(seq),)
            ).fetchone()
        return None if row is None else StoredLead(_lead_id(row[0]), row[1], row[2], json.loads(row[3]))

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM leads").fetchone()[0])
