"""``botdesk test``: run the project's test stories and report pass/fail per story."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli import app
from bot.cli.options import ProjectOption
from bot.cli.train_cmd import train_project
from bot.conversation.story_runner import run_stories
from bot.dialogue.test_stories import load_test_stories
from bot.errors import DataError
from bot.project import Project

console = Console(soft_wrap=True, highlight=False)


@app.command("test")
def test_stories(
    project_dir: ProjectOption = Path("."),
    stories: Annotated[
        list[Path] | None, typer.Argument(help="Test story files (default: tests/test_*.yml).")
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
    failed = 0
    for outcome in asyncio.run(run_stories(project, pipeline, loaded)):
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
