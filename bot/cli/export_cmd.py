"""``botdesk export rasa DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import export_app
from bot.cli.options import ProjectOption
from bot.interop.rasa_export import export_rasa
from bot.project import Project

console = Console(soft_wrap=True)


@export_app.command("rasa")
def rasa(
    directory: Annotated[Path, typer.Argument(help="Where to write the Rasa 3 project.")],
    project_dir: ProjectOption = Path("."),
) -> None:
    """Write a Rasa 3 project (NLU data, domain, rules, config) that `rasa train` accepts."""
    files, warnings = export_rasa(Project.open(project_dir), directory)
    for path in files:
        console.print(f"wrote {path}", highlight=False)
    for warning in warnings:
        console.print(f"[yellow]note:[/] {warning}", highlight=False)
    console.print(f"Next: cd {directory} && rasa train", highlight=False)
