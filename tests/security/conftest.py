"""The security tests use the server tests' apps (``make_app``), the store tests' databases (``db``)
and the Telegram tests' fake Bot API (``telegram_env``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.project import Project
from tests.channels.conftest import fake, telegram_env  # noqa: F401
from tests.server.conftest import clock, make_app, project_with, sqlite_url  # noqa: F401
from tests.store.conftest import db, db_url  # noqa: F401


def project_serving(trained_ru: Project, target: Path, **server: object) -> Project:
    """A copy of the default bot whose config.yml ``server:`` section is exactly ``server``."""
    text = trained_ru.config_path.read_text(encoding="utf-8")
    start = text.index("\nserver:\n")
    end = text.index("\n\n", start + 1)
    block = "\nserver:\n" + "".join(f"  {key}: {json.dumps(value)}\n" for key, value in server.items())
    return project_with(trained_ru, target, {text[start : end + 1]: block})


@pytest.fixture
def all_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for every logger, uvicorn's included.

    uvicorn's logging config stops its loggers short of the root, and a server started
    during the test would apply it again, dropping the handler added here: it is applied
    no more while the test runs (records go where they go; nothing else changes).
    """
    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda self: None)
    caplog.set_level(logging.DEBUG)
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    for logger in uvicorn_loggers:
        logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger in uvicorn_loggers:
            logger.removeHandler(caplog.handler)


CLIENT_LOGGERS = ("websockets.client", "httpx", "httpcore", "urllib3")  # the tests' own side


def server_errors(records: list[logging.LogRecord]) -> list[str]:
    """Records that say the server failed: errors, and warnings with a traceback (clients' own left out)."""
    return [
        f"{record.name}: {record.getMessage()}\n{record.exc_text or ''}"
        for record in records
        if not record.name.startswith(CLIENT_LOGGERS)
        and (
            record.levelno >= logging.ERROR
            or (record.levelno >= logging.WARNING and (record.exc_info or record.exc_text))
        )
    ]
