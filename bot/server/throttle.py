"""Login throttling: after a few wrong passwords for one login, that login waits.

In-process and per login (lowercased), so guessing one account's password is slow
while everybody else logs in as usual. Several server processes each keep their own
count; the limit then holds per process, which still stops a brute force.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from bot.clock import Clock

MAX_FAILURES = 5
WINDOW = timedelta(minutes=5)
MAX_TRACKED_LOGINS = 10_000


class LoginThrottle:
    """``retry_after(login)`` is how long the login must wait (None: go ahead)."""

    def __init__(self, clock: Clock, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, login: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(login.lower(), deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, login: str) -> timedelta | None:
        """Locked after ``max_failures`` failures within the window, until the oldest leaves it."""
        now = self.clock()
        failures = self._recent(login, now)
        if len(failures) < self.max_failures:
            return None
        return failures[0] + self.window - now

    def failed(self, login: str) -> None:
        now = self.clock()
        key = login.lower()
        failures = self._recent(key, now)
        failures.append(now)
        if len(self._failures) >= MAX_TRACKED_LOGINS and key not in self._failures:
            self._forget_stale(now)
        self._failures[key] = failures

    def succeeded(self, login: str) -> None:
        self._failures.pop(login.lower(), None)

    def _forget_stale(self, now: datetime) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
            del self._failures[key]
        while len(self._failures) >= MAX_TRACKED_LOGINS:  # a flood of logins: drop the oldest entries
            del self._failures[next(iter(self._failures))]
