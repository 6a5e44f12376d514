"""KPIs of customer service, computed from the store: what the dashboard and ``botdesk report`` show.

    period.py   the chosen period (local dates in the configured timezone)
    snapshot.py the rows of the period's dialogues, read with SQLAlchemy (SQLite and PostgreSQL)
    compute.py  every KPI from a snapshot, with breakdowns per channel, department, operator
    render.py   JSON, CSV and Markdown
    charts.py   server-rendered SVG charts for the dashboard
    demo.py     a month of realistic traffic (``botdesk demo-data``)

Definitions: docs/kpis.md.
"""

from bot.kpis.compute import KPI_KEYS, build_report
from bot.kpis.period import Period, PeriodError, parse_period
from bot.kpis.report import kpi_report, period_for
from bot.kpis.snapshot import Filters, load_snapshot

__all__ = [
    "KPI_KEYS",
    "Filters",
    "Period",
    "PeriodError",
    "build_report",
    "kpi_report",
    "load_snapshot",
    "parse_period",
    "period_for",
]
