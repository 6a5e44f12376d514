"""Numbers, shares, durations and dates as an operator of one language reads them (Babel's CLDR data).

"12.5%" in English is "12,5 %" in Russian, "2026-11-30" is "30 нояб. 2026 г."; a duration
is "4 min 10 s" / "4 мин 10 с". Nothing (an average over no data) is "—", never zero.
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from bot.i18n.catalog import Translator

NOTHING = "—"


class Formats:
    def __init__(self, t: Translator) -> None:
        self.t = t
        self.locale = t.language

    def number(self, value: float | None) -> str:
        if value is None:
            return NOTHING
        return format_decimal(value, format="#,##0.##", locale=self.locale)

    def share(self, value: float | None) -> str:
        """0.125 -> "12.5%" (one decimal)."""
        if value is None:
            return NOTHING
        return format_percent(value, format="#,##0.0%", locale=self.locale)

    def seconds(self, value: float | None) -> str:
        """42 -> "42 s", 250 -> "4 min 10 s", 4000 -> "1 h 6 min"."""
        if value is None:
            return NOTHING
        s = max(0, round(value))
        t = self.t
        if s < 60:
            return t.gettext("{s} s", s=s)
        if s < 3600:
            return t.gettext("{m} min {s} s", m=s // 60, s=s % 60)
        return t.gettext("{h} h {m} min", h=s // 3600, m=(s % 3600) // 60)

    def day(self, value: str | date) -> str:
        """An ISO day as this language writes a date."""
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, format="medium", locale=self.locale)
