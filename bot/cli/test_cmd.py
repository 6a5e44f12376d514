"""``botdesk test``: run the project's test stories and report pass/fail per story.

The default bot answers order statuses from a shop API (``BOTDESK_SHOP_URL``). When that
variable is not set, the run serves the bundled shop stub (``botdesk shop-stub``) on a
free local port and points the variable at it, so a new project's first ``botdesk test``
passes without a shop; ``--no-shop-stub`` turns that off, and setting the variable tests
against your own shop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli import app
from bot.cli.options import ProjectOption
from bot.cli.train_cmd import train_project
from bot.conversation.story_runner import run_stories
from bot.dialogue.test_stories import StoryOutcome, TestStory, load_test_stories
from bot.errors import DataError
from bot.nlu.pipeline import Pipeline
from bot.project import Project

console = Console(soft_wrap=True, highlight=False)
SHOP_URL = "BOTDESK_SHOP_URL"


@contextlib.asynccontextmanager
async def _shop_stub() -> AsyncIterator[None]:
    """The bundled shop stub, with ``BOTDESK_SHOP_URL`` pointing at it while the block runs."""
    from bot.stubs.local import served
    from bot.stubs.shop import create_shop_app

    async with served(create_shop_app()) as url:
        os.environ[SHOP_URL] = url
        try:
            yield
        finally:
            os.environ.pop(SHOP_URL, None)


async def _run(
    project: Project, pipeline: Pipeline, stories: list[TestStory], shop_stub: bool
) -> list[StoryOutcome]:
    if not shop_stub:
        return await run_stories(project, pipeline, stories)
    async with _shop_stub():
        return await run_stories(Project(project.root), pipeline, stories)  # HTTP actions read the URL anew


@app.command("test")
def test_stories(
    project_dir: ProjectOption = Path("."),
    stories: Annotated[
        list[Path] | None, typer.Argument(help="Test story files (default: tests/test_*.yml).")
    ] = None,
    shop_stub: Annotated[
        bool | None,
        typer.Option(
            "--shop-stub/--no-shop-stub",
            help="Serve the bundled shop stub for order lookups (default: when BOTDESK_SHOP_URL is not set).",
        ),
    ] = None,
) -> None:
    """Run test stories through the NLU and the dialogue; exit 1 if any fails."""
    project = Project.open(project_dir)
    files = stories or sorted((project.root / "tests").glob("test_*.yml"))
    if not files:
        raise DataError(f"no test stories: expected tests/test_*.yml in {project.root}")
    loaded = load_test_stories(list(files))
    info, _ = train_project(project, quiet=True)
    pipeline = project.models.load(project.config, info)
    if shop_stub is None:
        shop_stub = not os.environ.get(SHOP_URL)
    if shop_stub:
        console.print(f"[dim]order lookups go to the bundled shop stub (set {SHOP_URL} for your own shop)[/]")
    failed = 0
    for outcome in asyncio.run(_run(project, pipeline, loaded, shop_stub)):
        story = outcome.story
        if outcome.passed:
            console.print(f"[green]PASS[/] {escape(story.name)}")
            continue
        failed += 1
        console.print(f"[red]FAIL[/] {escape(story.name)} ({story.source}:{story.line})")
        for failure in outcome.failures:
            console.print(f"     {escape(failure)}")
    console.print(f"{len(loaded) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
