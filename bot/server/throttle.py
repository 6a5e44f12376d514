"""Login throttling: wrong passwords slow down the login they were tried on, and the address they came from.

- Per login: after ``MAX_FAILURES_PER_LOGIN`` wrong passwords within ``WINDOW`` that login
  answers 429 (whatever the password, from any address) until the oldest failure
  leaves the window. The login is counted in its one normal form
  (``handoff.accounts.normalize_login``), the same the account is looked up and created
  with, so ``" anna"``, ``"\\tANNA"`` and ``"anna"`` share one count.
- Per client address: after ``MAX_FAILURES_PER_ADDRESS`` wrong passwords within the
  window, whatever the logins, that address answers 429 (guessing one common password
  over many logins). An IPv6 client counts by its /64, which one host usually owns.
- Shared: the failures are rows in the database (``bot.store.login_failures``), so
  every server process on that database counts them together; counting and recording
  an attempt is one locked transaction, so concurrent attempts cannot slip past the
  limit either. An attempt counts as a failure from the moment it starts; a correct
  password then clears the login's failures.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.store import Database
from bot.store.login_failures import forget_login, lock_keys, purge_failures, recent_failures, record_failure
from bot.store.models import LoginFailure

MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = timedelta(minutes=5)
PURGE_EVERY = timedelta(minutes=1)


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def login_key(normal_login: str) -> str:
    """The stored form of a login (already normalised): a digest, so a mistyped password is not kept."""
    return _digest("login", normal_login)


def address_key(host: str | None) -> str:
    """The stored form of a client address; IPv6 by its /64 network."""
    value = (host or "unknown").strip().lower()
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return _digest("address", value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        value = str(ipaddress.IPv6Network((address, 64), strict=False))
    elif isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        value = str(address.ipv4_mapped)
    return _digest("address", value)


class Throttled(Exception):
    """Too many failures: try again in ``retry_after``."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """A login attempt in progress, already counted as a failure."""

    failure_id: int
    login_key: str


def _wait(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> timedelta | None:
    """Locked while ``limit`` or more failures are in the window: until enough of them leave it."""
    if len(failures) < limit:
        return None
    return failures[len(failures) - limit] + window - now


class LoginThrottle:
    """``begin`` before checking a password (``Throttled`` when locked), ``succeeded`` after a right one."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        per_login: int = MAX_FAILURES_PER_LOGIN,
        per_address: int = MAX_FAILURES_PER_ADDRESS,
        window: timedelta = WINDOW,
    ) -> None:
        self.db = db
        self.clock = clock
        self.per_login = per_login
        self.per_address = per_address
        self.window = window
        self._purged: datetime | None = None

    async def begin(self, normal_login: str, host: str | None) -> Attempt:
        """Count this attempt as a failure, unless the login or the address is locked (``Throttled``)."""
        by_login, by_address = login_key(normal_login), address_key(host)
        async with self.db.session() as session:
            await lock_keys(session, (by_login, by_address))
            now = self.clock()
            since = now - self.window
            waits = [
                _wait(
                    await recent_failures(session, LoginFailure.login_key, by_login, since),
                    self.per_login,
                    self.window,
                    now,
                ),
                _wait(
                    await recent_failures(session, LoginFailure.address_key, by_address, since),
                    self.per_address,
                    self.window,
                    now,
                ),
            ]
            locked = [wait for wait in waits if wait is not None]
            if locked:
                raise Throttled(max(max(locked), timedelta(seconds=1)))
            failure_id = await record_failure(session, by_login, by_address, now)
            await session.commit()
        return Attempt(failure_id, by_login)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the login's failures (this attempt's too) are forgotten."""
        async with self.db.session() as session:
            await forget_login(session, attempt.login_key)
            await session.commit()

    async def purge(self) -> int:
        """Delete failures that no longer count (from the maintenance loop, at most once per minute)."""
        now = self.clock()
        if self._purged is not None and now - self._purged < PURGE_EVERY:
            return 0
        async with self.db.session() as session:
            removed = await purge_failures(session, now - self.window)
            await session.commit()
        self._purged = now
        return removed
