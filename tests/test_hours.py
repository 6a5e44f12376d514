"""Working hours: schedule, timezone, holidays, next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from bot.hours import WorkingHours, describe_opening

SHOP = WorkingHours(
    timezone="Europe/Moscow",
    schedule={"mon-fri": "09:00-21:00", "sat": "10:00-18:00", "sun": "closed"},
    holidays=[date(2027, 1, 1)],
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_inside_hours_in_the_shops_timezone() -> None:
    assert SHOP.is_open(utc(2026, 11, 23, 7, 0))  # Monday 10:00 in Moscow
    assert not SHOP.is_open(utc(2026, 11, 23, 5, 59))  # 08:59 Moscow
    assert not SHOP.is_open(utc(2026, 11, 23, 18, 0))  # 21:00 Moscow: closed at the end


def test_until_24_00_is_open_to_the_last_second_of_the_day() -> None:
    """ "00:00-24:00" is round the clock: its last minute (23:59 Moscow) once counted as closed."""
    always = WorkingHours(timezone="Europe/Moscow", schedule={"daily": "00:00-24:00"})
    assert always.is_open(utc(2026, 11, 23, 20, 59, 30))  # 23:59:30 Moscow
    assert always.is_open(datetime(2026, 11, 23, 20, 59, 59, 999_999, tzinfo=UTC))
    assert always.is_open(utc(2026, 11, 23, 21, 0))  # 00:00 the next day
    evening = WorkingHours(timezone="Europe/Moscow", schedule={"daily": "18:00-24:00"})
    assert evening.is_open(utc(2026, 11, 23, 20, 59, 50)) and not evening.is_open(utc(2026, 11, 23, 14, 59))
    assert evening.next_opening(utc(2026, 11, 23, 21, 30)).isoformat() == "2026-11-24T18:00:00+03:00"  # type: ignore[union-attr]


def test_next_opening_overnight_and_over_the_weekend() -> None:
    friday_night = utc(2026, 11, 27, 20, 0)  # Fri 23:00 Moscow
    opening = SHOP.next_opening(friday_night)
    assert opening is not None and opening.isoformat() == "2026-11-28T10:00:00+03:00"  # Saturday 10:00
    saturday_night = utc(2026, 11, 28, 16, 0)  # Sat 19:00
    assert SHOP.next_opening(saturday_night).isoformat() == "2026-11-30T09:00:00+03:00"  # type: ignore[union-attr]


def test_holiday_is_closed() -> None:
    new_year = utc(2027, 1, 1, 9, 0)  # Friday, 12:00 Moscow, but a holiday
    assert not SHOP.is_open(new_year)
    assert SHOP.next_opening(new_year).isoformat() == "2027-01-02T10:00:00+03:00"  # type: ignore[union-attr]


def test_always_closed_has_no_opening() -> None:
    assert WorkingHours(schedule={"daily": "closed"}).next_opening(utc(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("schedule", "timezone", "message"),
    [
        ({"mon-fri": "9-21"}, "Europe/Moscow", "HH:MM-HH:MM"),
        ({"funday": "09:00-10:00"}, "Europe/Moscow", "unknown day"),
        ({"mon": "21:00-09:00"}, "Europe/Moscow", "end must be after the start"),
        ({"mon": "09:00-18:00"}, "Mars/Olympus", "unknown timezone"),
    ],
)
def test_bad_hours_are_clear(schedule: dict[str, str], timezone: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WorkingHours(timezone=timezone, schedule=schedule)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SHOP.is_open(datetime(2026, 1, 1, 12, 0))


def test_describe_opening() -> None:
    now = utc(2026, 11, 27, 20, 0)
    opening = SHOP.next_opening(now)
    assert opening is not None
    assert describe_opening(opening, now, "ru") == "завтра в 10:00"
    assert describe_opening(opening, now, "en") == "tomorrow at 10:00"
