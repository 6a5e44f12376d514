"""The reporting period: whole local days in the KPI timezone, ``[start, end)`` in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import BotdeskError
from bot.i18n.text import Text
from bot.settings import BotdeskConfig

DEFAULT_DAYS = 30
MAX_DAYS = 366


class PeriodError(BotdeskError):
    """A period that cannot be reported: a bad date, or ``from`` after ``to``."""


@dataclass(frozen=True)
class Period:
    """Local days ``first``..``last`` (both included) in ``tz``."""

    first: date
    last: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz).astimezone(UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def kpi_timezone(config: BotdeskConfig) -> ZoneInfo:
    """``kpis.timezone``, or the first department's working-hours timezone."""
    return ZoneInfo(config.kpis.timezone or config.departments[0].hours.timezone)


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(
            Text("--{name} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01", name=name, value=value)
        ) from None


def parse_period(
    first: str | date | None, last: str | date | None, tz: ZoneInfo, now: datetime | None = None
) -> Period:
    """From two dates (strings or dates, both optional): the default is the last 30 days to today."""
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    if isinstance(last, str) and last:
        last_day = _day(last, "to")
    else:
        last_day = last if isinstance(last, date) else today
    if isinstance(first, str) and first:
        first_day = _day(first, "from")
    elif isinstance(first, date):
        first_day = first
    else:
        first_day = last_day - timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise PeriodError(
            Text(
                "the period starts ({first}) after it ends ({last})", first=str(first_day), last=str(last_day)
            )
        )
    if (last_day - first_day).days >= MAX_DAYS:
        raise PeriodError(Text("a report covers at most {days} days; choose a shorter period", days=MAX_DAYS))
    return Period(first_day, last_day, tz)
