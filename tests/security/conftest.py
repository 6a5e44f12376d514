"""The security tests use the server tests' apps (``make_app``), the store tests' databases (``db``)
and the Telegram tests' fake Bot API (``telegram_env``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import uvicorn


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
