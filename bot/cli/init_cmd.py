"""``botdesk init DIR``: a new project from the default bot."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import app
from bot.errors import ConfigError

console = Console(soft_wrap=True)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("config.yml", "intents", "stories")


def template_dir(language: str) -> Path:
    """The default bot: inside the wheel, or the repository checkout in development."""
    packaged = PACKAGE_DIR / ("default_project" if language == "ru" else f"default_project_{language}")
    if (packaged / "config.yml").is_file():
        return packaged
    repo = PACKAGE_DIR.parent
    source = repo if language == "ru" else repo / "examples" / f"{language}-shop"
    if (source / "config.yml").is_file():
        return source
    raise ConfigError(f"no default bot for language {language!r} is installed")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")],
    language: Annotated[str, typer.Option("--language", "-l", help="ru (default bot) or en.")] = "ru",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing project.")] = False,
) -> None:
    """Create a new bot project from the default online-shop bot."""
    if language not in ("ru", "en"):
        raise ConfigError(f"unknown language {language!r}; expected ru or en")
    source = template_dir(language)
    target = directory.expanduser().resolve()
    if (target / "config.yml").exists() and not force:
        raise ConfigError(f"{target} already holds a botdesk project; use --force to overwrite it")
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        item = source / name
        if item.is_dir():
            shutil.copytree(item, target / name, dirs_exist_ok=True)
        elif item.is_file():
            shutil.copy2(item, target / name)
    (target / "tests").mkdir(exist_ok=True)  # `botdesk test` runs tests/test_*.yml
    for story_file in sorted((source / "tests").glob("test_*.yml")):  # test stories, not pytest files
        shutil.copy2(story_file, target / "tests" / story_file.name)
    console.print(
        f"Created a botdesk project in {target}.\n"
        f"Next: botdesk train --project {target}, then botdesk test --project {target}",
        highlight=False,
    )
