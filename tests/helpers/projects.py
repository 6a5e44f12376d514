"""Projects for the tests: the repository, copies of the default bots, files written."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def copy_project(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "config.yml", target / "config.yml")
    shutil.copytree(source / "intents", target / "intents")
    if (source / "stories").is_dir():
        shutil.copytree(source / "stories", target / "stories")
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
