"""One call from a period to a report, for the CLI, the API and the dashboard."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.kpis.compute import build_report
from bot.kpis.period import Period, kpi_timezone, parse_period
from bot.kpis.snapshot import Filters, load_snapshot
from bot.settings import BotdeskConfig
from bot.store import Database


def period_for(
    config: BotdeskConfig, first: str | date | None, last: str | date | None, now: datetime | None = None
) -> Period:
    return parse_period(first, last, kpi_timezone(config), now)


async def kpi_report(
    db: Database,
    config: BotdeskConfig,
    period: Period,
    filters: Filters | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every KPI of ``period`` (read in one read transaction: the numbers agree with each other)."""
    async with db.reader() as session:
        filters = filters or Filters()
        snapshot = await load_snapshot(session, period, filters, now)
    report = build_report(snapshot, config.kpis.first_response_sla_seconds)
    report["filters"] = {k: v for k, v in vars(filters).items() if v}
    return report
