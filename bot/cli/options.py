"""Options shared by many commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project", "-p", help="Project directory (with config.yml).", show_default="current directory"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@contextmanager
def step_progress(
    console: Console, label: str, disable: bool = False
) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar driven by the ``progress(name, index, total)`` callbacks of long work."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=disable,
    ) as progress:
        task = progress.add_task(label, total=1)

        def step(name: str, index: int, total: int) -> None:
            progress.update(task, total=total, completed=index, description=f"{label}: {name}")

        yield step
