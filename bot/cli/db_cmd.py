"""``botdesk db upgrade | current | revision``: the project's database schema."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import db_app
from bot.cli.options import ProjectOption
from bot.project import Project
from bot.settings import DATABASE_URL_ENV
from bot.store import migrate
from bot.store.db import Database, async_url, display_url

console = Console(soft_wrap=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=f"Database URL; default: ${DATABASE_URL_ENV}, else storage.url in config.yml.",
        show_default=False,
    ),
]


def database_target(project_dir: Path, url: str | None) -> tuple[str, Path]:
    """The URL to use and the directory a relative SQLite path is relative to."""
    root = project_dir.expanduser().resolve()
    if url:
        return url, root
    if os.environ.get(DATABASE_URL_ENV):
        return os.environ[DATABASE_URL_ENV], root
    project = Project.open(project_dir)
    return project.config.database_url(), project.root


def _shown(url: str, base_dir: Path) -> str:
    return display_url(async_url(url, base_dir))


@db_app.command("upgrade")
def upgrade(project_dir: ProjectOption = Path("."), url: UrlOption = None) -> None:
    """Create the database or migrate it to the newest schema (safe to run again)."""
    target, base_dir = database_target(project_dir, url)

    async def run() -> tuple[str | None, str | None]:
        async with Database.open(target, base_dir=base_dir) as db:
            before = await migrate.current_revision(db.engine)
            return before, await migrate.upgrade(db.engine)

    before, after = asyncio.run(run())
    where = _shown(target, base_dir)
    if before == after:
        console.print(f"{where} is up to date (revision {after}).", highlight=False)
    else:
        console.print(
            f"{where} upgraded from {before or 'an empty database'} to revision {after}.", highlight=False
        )


@db_app.command("current")
def current(project_dir: ProjectOption = Path("."), url: UrlOption = None) -> None:
    """Print the database's schema revision; exit 1 when it needs `botdesk db upgrade`."""
    target, base_dir = database_target(project_dir, url)

    async def run() -> str | None:
        async with Database.open(target, base_dir=base_dir) as db:
            return await migrate.current_revision(db.engine)

    revision, head = asyncio.run(run()), migrate.head_revision()
    if revision == head:
        console.print(f"{revision} (head)", highlight=False)
        return
    console.print(
        f"{revision or 'none'} (head is {head}); run `botdesk db upgrade`", highlight=False, style="yellow"
    )
    raise typer.Exit(1)


@db_app.command("revision")
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration changes.")],
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="Compare against this database (at head); default: a scratch SQLite file."
        ),
    ] = None,
    empty: Annotated[
        bool, typer.Option("--empty", help="Write an empty migration to fill in by hand.")
    ] = False,
) -> None:
    """Write the next migration from the difference between the models and the schema (for developers)."""

    async def run(target: str) -> Path:
        async with Database.open(target) as db:
            if url is None:
                await migrate.upgrade(db.engine)
            return await migrate.revision(db.engine, message, autogenerate=not empty)

    if url is not None:
        path = asyncio.run(run(url))
    else:
        with tempfile.TemporaryDirectory(prefix="botdesk-revision-") as scratch:
            path = asyncio.run(run(f"sqlite:///{Path(scratch) / 'scratch.db'}"))
    console.print(
        f"wrote {path}; review it, then run `ruff format` on it and `botdesk db upgrade`", highlight=False
    )
