"""``botdesk data validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli import data_app
from bot.dialogue.engine import SYSTEM_RESPONSES
from bot.nlu.validate import validate_data
from bot.project import Project

console = Console(soft_wrap=True)


@data_app.command("validate")
def validate(
    project_dir: Annotated[Path, typer.Option("--project", "-p", help="Project directory.")] = Path("."),
    min_examples: Annotated[int, typer.Option(help="Warn about intents with fewer examples.")] = 10,
) -> None:
    """Find duplicate, thin or unanswered intents and unknown entities; exit 1 on errors."""
    project = Project.open(project_dir)
    data = project.data
    dialogue = project.dialogue  # stories are checked against the intents and responses too
    said_by_stories = dialogue.responses_said()
    answered = {
        step.name
        for flow in dialogue.flows
        for step, following in zip(flow.steps, flow.steps[1:], strict=False)
        if step.kind == "intent" and following.kind == "action"
    }
    problems = validate_data(data, project.config, min_examples, said_by_stories | SYSTEM_RESPONSES, answered)
    errors = [p for p in problems if p.level == "error"]
    if problems:
        table = Table(show_header=True, header_style="bold")
        table.add_column("level")
        table.add_column("where", overflow="fold")
        table.add_column("problem", overflow="fold")
        for problem in sorted(problems, key=lambda p: (p.level != "error", p.where)):
            style = "red" if problem.level == "error" else "yellow"
            where = problem.where.removeprefix(f"{project.root}/")
            table.add_row(f"[{style}]{problem.level}[/]", where, problem.message)
        console.print(table)
    console.print(
        f"{len(data.intents)} intents, {len(data.examples)} examples, {len(data.responses)} responses, "
        f"{len(dialogue.rules)} rules, {len(dialogue.stories)} stories: "
        f"{len(errors)} errors, {len(problems) - len(errors)} warnings",
        highlight=False,
    )
    if errors:
        raise typer.Exit(1)
