"""Shared fixtures: copies of the default bots, trained once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.nlu.pipeline import Pipeline
from bot.project import Project

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def copy_project(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "config.yml", target / "config.yml")
    shutil.copytree(source / "intents", target / "intents")
    if (source / "stories").is_dir():
        shutil.copytree(source / "stories", target / "stories")
    return target


@pytest.fixture
def ru_project(tmp_path: Path) -> Project:
    """A fresh, untrained copy of the default Russian bot."""
    return Project.open(copy_project(REPO, tmp_path / "ru-bot"))


@pytest.fixture
def en_project(tmp_path: Path) -> Project:
    return Project.open(copy_project(REPO / "examples" / "en-shop", tmp_path / "en-bot"))


@pytest.fixture(scope="session")
def trained_ru(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The default Russian bot, trained once for all tests that only read it."""
    project = Project.open(copy_project(REPO, tmp_path_factory.mktemp("trained") / "ru-bot"))
    project.models.train(project.config, project.data)
    yield project


@pytest.fixture(scope="session")
def ru_pipeline(trained_ru: Project) -> Pipeline:
    return trained_ru.load_pipeline()


@pytest.fixture(scope="session")
def trained_en(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project.open(
        copy_project(REPO / "examples" / "en-shop", tmp_path_factory.mktemp("trained") / "en-bot")
    )
    project.models.train(project.config, project.data)
    return project


@pytest.fixture(scope="session")
def en_pipeline(trained_en: Project) -> Pipeline:
    return trained_en.load_pipeline()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
