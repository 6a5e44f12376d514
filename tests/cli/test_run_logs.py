"""What ``botdesk run`` shows of the log: botdesk's lines and the PostgreSQL pool's warnings."""

from __future__ import annotations

import logging

import pytest

from bot.cli import run_cmd


def _bare_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """No logging set up, as when `botdesk run` starts (pytest's own capture left out too); put back after."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in run_cmd.SHOWN_LOGS)]
    for logger in loggers:
        monkeypatch.setattr(logger, "handlers", [])
        monkeypatch.setattr(logger, "level", logger.level)


def test_the_pools_warnings_show_beside_botdesks_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _bare_logging(monkeypatch)
    run_cmd._show_logs()
    logging.getLogger("botdesk.store").info("database unavailable during a rest message")
    logging.getLogger("psycopg.pool").warning("discarding closed connection")
    logging.getLogger("psycopg.pool").info("connection added to the pool")  # its chatter stays out
    shown = capsys.readouterr().err.splitlines()
    assert shown == [
        "INFO      botdesk.store: database unavailable during a rest message",
        "WARNING   psycopg.pool: discarding closed connection",
    ]


def test_logging_set_up_by_the_host_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    _bare_logging(monkeypatch)
    ours = logging.StreamHandler()
    logging.getLogger().addHandler(ours)
    run_cmd._show_logs()
    assert logging.getLogger("psycopg.pool").handlers == [] and logging.getLogger("botdesk").handlers == []
