"""Working hours of a department: weekly schedule, timezone, holidays.

Answers the two questions the dialogue asks: "is anyone on duty now?" and "when will
people be back?" (so the bot can say "a person answers from 9:00").
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
LOOKAHEAD_DAYS = 400


def _parse_span(text: str) -> tuple[time, time]:
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"expected 'HH:MM-HH:MM' or 'closed', got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        # "24:00" is the end of the day: open through 23:59:59, not closed for its last minute.
        start, end = time(h1, m1), (time.max if (h2, m2) == (24, 0) else time(h2, m2))
    except ValueError as exc:
        raise ValueError(f"bad time in {text!r}: {exc}") from None
    if end <= start:
        raise ValueError(f"{text!r}: the end must be after the start (overnight spans: split them per day)")
    return start, end


def _expand_days(key: str) -> list[int]:
    key = key.strip().lower()
    if key in ("daily", "every day", "mon-sun"):
        return list(range(7))
    if "-" in key:
        first, last = (part.strip() for part in key.split("-", 1))
        if first not in DAYS or last not in DAYS:
            raise ValueError(f"unknown day range {key!r}; use e.g. mon-fri")
        a, b = DAYS.index(first), DAYS.index(last)
        return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    if key not in DAYS:
        raise ValueError(
            f"unknown day {key!r}; expected one of {', '.join(DAYS)}, a range like mon-fri, or daily"
        )
    return [DAYS.index(key)]


class WorkingHours(BaseModel):
    """``timezone`` + ``schedule`` (day or day range -> "HH:MM-HH:MM" | "closed") + ``holidays``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Europe/Moscow"
    schedule: dict[str, str] = Field(default_factory=lambda: {"daily": "09:00-21:00"})
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name like Europe/Moscow") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: dict[str, str]) -> dict[str, str]:
        for key, span in value.items():
            _expand_days(key)
            if span.strip().lower() != "closed":
                _parse_span(span)
        return value

    def _week(self) -> dict[int, tuple[time, time] | None]:
        week: dict[int, tuple[time, time] | None] = {}
        for key, span in self.schedule.items():  # later keys override earlier ones
            parsed = None if span.strip().lower() == "closed" else _parse_span(span)
            for day in _expand_days(key):
                week[day] = parsed
        return week

    def _span_on(self, day: date) -> tuple[time, time] | None:
        if day in self.holidays:
            return None
        return self._week().get(day.weekday())

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("working hours need timezone-aware datetimes")
        return moment.astimezone(ZoneInfo(self.timezone))

    def is_open(self, moment: datetime) -> bool:
        now = self.local(moment)
        span = self._span_on(now.date())
        if span is None:
            return False
        start, end = span
        return start <= now.time() and (now.time() < end or end == time.max)

    def next_opening(self, moment: datetime) -> datetime | None:
        """When people are next on duty (``moment`` itself if open now); None if never."""
        now = self.local(moment)
        if self.is_open(now):
            return now
        for offset in range(LOOKAHEAD_DAYS):
            day = now.date() + timedelta(days=offset)
            span = self._span_on(day)
            if span is None:
                continue
            opening = datetime.combine(day, span[0], tzinfo=now.tzinfo)
            if opening > now:
                return opening
        return None


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Annotated[str, Field(pattern=r"^[a-z0-9_\-]+$")]
    name: str
    hours: WorkingHours = Field(default_factory=WorkingHours)


def describe_opening(opening: datetime, now: datetime, language: str) -> str:
    """ "today at 09:00" / "tomorrow at 09:00" / "on 02.01 at 09:00", in the bot's language."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    clock = opening.strftime("%H:%M")
    if language == "ru":
        if days == 0:
            return f"сегодня в {clock}"
        if days == 1:
            return f"завтра в {clock}"
        return f"{opening.strftime('%d.%m')} в {clock}"
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    return f"on {opening.strftime('%b %d')} at {clock}"
