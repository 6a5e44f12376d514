"""``botdesk import rasa DIR``: a botdesk project from a Rasa 3 project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.interop.rasa_import import import_rasa

console = Console(soft_wrap=True, highlight=False)
import_app = typer.Typer(help="Import a project from other tools.", no_args_is_help=True)


@import_app.command("rasa")
def rasa(
    directory: Annotated[Path, typer.Argument(help="The Rasa 3 project (with domain.yml and data/).")],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Where to write the botdesk project.", show_default="DIR-botdesk"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty directory.")] = False,
) -> None:
    """Turn a Rasa 3 project into a botdesk project and list what did not carry over."""
    source = directory.expanduser().resolve()
    target = to if to is not None else source.parent / f"{source.name}-botdesk"
    result = import_rasa(source, target, force)
    for path in result.files:
        console.print(f"wrote {escape(str(path))}")
    dropped = [n for n in result.notes if n.kind == "dropped"]
    changed = [n for n in result.notes if n.kind == "changed"]
    if dropped:
        console.print(f"\n[bold yellow]Not carried over[/] ({len(dropped)}):")
        for note in dropped:
            console.print(f"  - {escape(str(note))}")
    if changed:
        console.print(f"\n[bold]Carried over differently[/] ({len(changed)}):")
        for note in changed:
            console.print(f"  - {escape(str(note))}")
    project = escape(str(result.target))
    console.print(f"\nNext: botdesk train --project {project} && botdesk test --project {project}")
