"""Fixtures every test directory shares: copies of the default bots, trained once per session.

The store's (``db``, ``pg_db``, ...), the server's (``make_app``, ``clock``, ...) and the fake
Telegram's and VK's fixtures are plugins (``tests/fixtures``) registered here, so any test can take
them; plain helpers are imported from ``tests/helpers``, never from a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from tests.helpers.projects import REPO, copy_project

# The suite runs on two busy cores (two pytest workers, a browser, subprocess servers): an
# answer can take longer than httpx's 5 s default, so a client made without a timeout waits
# up to 30 s. Code whose timeout a test is about sets its own (actions, CRMs, channels).
_kwdefaults = httpx.AsyncClient.__init__.__kwdefaults__ or {}
_kwdefaults["timeout"] = httpx.Timeout(30.0)

pytest_plugins = [
    "tests.fixtures.store",
    "tests.fixtures.server",
    "tests.fixtures.telegram",
    "tests.fixtures.whatsapp",
    "tests.fixtures.vk",
    "tests.fixtures.email",
]


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
