"""Real ``botdesk run`` processes for the scale-out and fault tests, and their shared project.

Each process is the installed CLI in a subprocess on a free port of 127.0.0.1, with its
database (and, for scale-out, its Redis events channel) given through the environment
as in production. The project is the default bot open around the clock (a handoff
always queues, whatever the time of the run), trained once here so no process trains."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.project import Project
from tests.helpers.postgres import postgres_schema
from tests.helpers.processes import BotdeskProcess, Launch
from tests.helpers.server import project_with


@pytest.fixture(scope="session")
def open_project(trained_ru: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default bot, open 24/7, with a Redis events channel of its own (used when Redis is on)."""
    target = tmp_path_factory.mktemp("faults") / "bot"
    project = project_with(
        trained_ru,
        target,
        {
            'daily: "09:00-21:00"': 'daily: "00:00-24:00"',
            "  backend: memory\n": f"  backend: memory\n  channel: botdesk-test-{uuid.uuid4().hex}\n",
        },
    )
    project.models.train(project.config, project.data)
    return project


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL schema of the test's own, on the shared test database."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def botdesk(tmp_path: Path) -> Iterator[Launch]:
    """``await botdesk(project, url, **env).start()``; every process started is stopped afterwards."""
    started: list[BotdeskProcess] = []

    def launch(project: Project, database_url: str, **env: str) -> BotdeskProcess:
        process = BotdeskProcess(project, database_url, tmp_path / f"botdesk-{len(started)}.log", **env)
        started.append(process)
        return process

    yield launch
    for process in started:
        process.stop()
