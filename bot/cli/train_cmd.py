"""``botdesk train``: train the NLU model, or say it is already up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import app
from bot.cli.options import ProjectOption, step_progress
from bot.nlu.model_store import ModelInfo
from bot.project import Project

console = Console(soft_wrap=True)


def train_project(project: Project, force: bool = False, quiet: bool = False) -> tuple[ModelInfo, bool]:
    """``Project.train`` with a progress line on the terminal; returns (model, trained?)."""
    if not force and project.models.is_up_to_date(project.config, project.data) is not None:
        return project.train()
    with step_progress(console, "training", disable=quiet) as step:
        return project.train(force=force, progress=step)


@app.command()
def train(
    project_dir: ProjectOption = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Retrain even if nothing changed.")] = False,
) -> None:
    """Train the NLU model from intents/*.yml (skipped when nothing changed)."""
    project = Project.open(project_dir)
    info, trained = train_project(project, force)
    meta = info.metadata
    if not trained:
        console.print(
            f"Model {info.version} is up to date (data and config unchanged); use --force to retrain."
        )
        return
    console.print(
        f"Trained model [bold]{info.version}[/]: {len(meta['intents'])} intents, "
        f"{meta['examples']} examples, {meta['train_seconds']:.2f} s -> {info.path}",
        highlight=False,
    )
