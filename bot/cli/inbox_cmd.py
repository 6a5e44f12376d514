"""``botdesk inbox``: the editor's NLU inbox in the terminal, or as JSON for scripts.

The same selection and grouping as the editor page: messages the bot did not answer
alone, similar ones grouped, biggest groups first; phones and e-mails masked.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli import app
from bot.cli.db_cmd import UrlOption, database_target
from bot.cli.options import JsonOption, ProjectOption
from bot.editor.inbox import inbox as build_inbox
from bot.editor.inbox import parse_since
from bot.errors import ConfigError
from bot.project import Project
from bot.store import Database, upgrade

console = Console(soft_wrap=True)


def load_inbox(project: Project, url: str | None, since: datetime | None, limit: int) -> dict[str, Any]:
    target, base_dir = database_target(project.root, url)

    async def run() -> dict[str, Any]:
        async with Database.open(target, base_dir=base_dir) as db:
            await upgrade(db.engine)
            return await build_inbox(
                db, project.config, project.data.responses, datetime.now(UTC), since, limit
            )

    return asyncio.run(run())


@app.command()
def inbox(
    project_dir: ProjectOption = Path("."),
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=5000, help="At most this many messages.")] = 500,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="From this date (2026-11-01) or ISO date-time; default: editor.inbox_days."
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """What the bot did not answer alone, grouped: label it on /panel/editor."""
    project = Project.open(project_dir)
    try:
        start = parse_since(since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    data = load_inbox(project, url, start, limit)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data["groups"]:
        console.print(f"Nothing in the inbox since {data['since'][:10]}: the bot answered everything alone.")
        return
    table = Table(title=f"NLU inbox since {data['since'][:10]}: {data['total']} messages")
    table.add_column("group", justify="right")
    table.add_column("n", justify="right")
    table.add_column("message")
    table.add_column("why")
    table.add_column("bot thought")
    for group in data["groups"]:
        for index, message in enumerate(group["messages"]):
            guess = message["intent"] or ""
            if message["confidence"] is not None:
                guess += f" {message['confidence']:.2f}"
            table.add_row(
                str(group["id"]) if index == 0 else "",
                str(group["size"]) if index == 0 else "",
                message["text"],
                ", ".join(message["reasons"]),
                guess,
            )
    console.print(table)
    console.print("Label them on /panel/editor (or add the examples to intents/*.yml), then retrain.")
