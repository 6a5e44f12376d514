"""``botdesk customer forget | purge-expired``: deleting personal data from a project's database.

``forget ID`` removes one customer's messages, leads, identities and everything that
quotes them (the id is in the panel's customer card and in ``GET /api/conversations``);
``purge-expired`` deletes conversations older than ``privacy.retention_days`` (or
``--days``), as the running server does every hour when retention is on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli import customer_app
from bot.cli.db_cmd import UrlOption
from bot.cli.operator_cmd import _with_database, console
from bot.cli.options import JsonOption, ProjectOption
from bot.errors import BotdeskError
from bot.privacy import forget, purge_expired
from bot.project import Project


class RetentionOff(BotdeskError):
    """purge-expired without a retention period."""


@customer_app.command("forget")
def forget_command(
    customer_id: Annotated[int, typer.Argument(min=1, help="The customer's id (panel card, API).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """Delete a customer's personal data everywhere (messages, leads, identities, notes). Cannot be undone."""
    if not yes:
        typer.confirm(f"Forget customer {customer_id} for good?", abort=True)
    report = _with_database(project_dir, url, lambda db: forget(db, customer_id, by="the command line"))
    if as_json:
        console.print_json(json.dumps(report.__dict__))
        return
    console.print(
        f"customer {customer_id} forgotten: {report.messages} messages, {report.leads} leads, "
        f"{report.identities} identities, {report.outbox_items} outbox items, {report.other_rows} other rows",
        highlight=False,
    )


@customer_app.command("purge-expired")
def purge_command(
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Retention in days; default: privacy.retention_days in config.yml."
        ),
    ] = None,
    as_json: JsonOption = False,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """Delete conversations (and their messages) inactive for longer than the retention period."""
    if days is None:
        days = Project.open(project_dir).config.privacy.retention_days
        if days is None:
            raise RetentionOff("retention is off: set privacy.retention_days in config.yml, or pass --days N")
    retention = days
    purged = _with_database(project_dir, url, lambda db: purge_expired(db, retention))
    if as_json:
        console.print_json(json.dumps({"days": retention, **purged.__dict__}))
        return
    console.print(
        f"deleted {purged.conversations} conversations older than {retention} days "
        f"({purged.messages} messages, {purged.customers} customers with nothing left)",
        highlight=False,
    )
