"""The time services run on: a ``Clock`` is injected so tests and replays can set it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (UTC)."""


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)
