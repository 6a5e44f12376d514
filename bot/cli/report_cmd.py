"""``botdesk report`` (the KPIs of a period) and ``botdesk demo-data`` (a month of traffic to look at)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.cli import app
from bot.cli.db_cmd import UrlOption, database_target
from bot.cli.options import ProjectOption
from bot.kpis import Filters, kpi_report, period_for
from bot.kpis.demo import write_demo
from bot.kpis.period import kpi_timezone
from bot.kpis.render import render
from bot.project import Project, load_checked_config
from bot.settings import BotdeskConfig
from bot.store import Database, upgrade

console = Console(soft_wrap=True)


class ReportFormat(StrEnum):
    MD = "md"
    CSV = "csv"
    JSON = "json"


def _config(project_dir: Path) -> BotdeskConfig:
    return load_checked_config(project_dir.expanduser().resolve() / "config.yml")


@app.command("report")
def report(
    first: Annotated[
        str | None,
        typer.Option("--from", help="First day, YYYY-MM-DD (local time).", show_default="30 days ago"),
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last day, included.", show_default="today")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.MD,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this channel (web, telegram, rest).")
    ] = None,
    department: Annotated[str | None, typer.Option("--department", help="Only this department key.")] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Only dialogues of this operator login.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """KPIs of a period (definitions: docs/kpis.md) as Markdown, CSV or JSON."""
    config = _config(project_dir)
    period = period_for(config, first, last)
    target, base_dir = database_target(project_dir, url)

    async def run() -> dict[str, Any]:
        async with Database.open(target, base_dir=base_dir) as db:
            await upgrade(db.engine)
            return await kpi_report(db, config, period, Filters(channel, department, operator))

    text = render(asyncio.run(run()), fmt.value)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)
    else:
        typer.echo(text, nl=not text.endswith("\n"))


@app.command("demo-data")
def demo_data(
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How many days of traffic.")] = 30,
    per_day: Annotated[int, typer.Option("--per-day", min=1, max=2000, help="Dialogues on a weekday.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="The same seed writes the same history.")] = 7,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """Write a month of realistic demo traffic (ending yesterday) into the project's database."""
    project = Project.open(project_dir)
    config = project.config
    answers = {
        name: str(variants[0].get("text", ""))
        for name, variants in project.data.responses.items()
        if variants
    }
    yesterday = datetime.now(UTC).astimezone(kpi_timezone(config)).date() - timedelta(days=1)
    target, base_dir = database_target(project_dir, url)

    async def run() -> Any:
        async with Database.open(target, base_dir=base_dir) as db:
            await upgrade(db.engine)
            async with db.session() as session:
                return await write_demo(
                    session, config, yesterday, days=days, per_day=per_day, seed=seed, answers=answers
                )

    summary = asyncio.run(run())
    console.print(
        f"demo data: {summary.dialogues} dialogues, {summary.messages} messages, "
        f"{summary.handoffs} handoffs, "
        f"{summary.leads} leads and call-backs, {summary.feedback} surveys, "
        f"{yesterday - timedelta(days=days - 1)} to {yesterday}",
        highlight=False,
    )
