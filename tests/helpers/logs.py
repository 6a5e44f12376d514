"""What the server logged, and projects with a server section, for the security tests."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.project import Project
from tests.helpers.server import project_with


def project_serving(trained_ru: Project, target: Path, **server: object) -> Project:
    """A copy of the default bot whose config.yml ``server:`` section is exactly ``server``."""
    text = trained_ru.config_path.read_text(encoding="utf-8")
    start = text.index("\nserver:\n")
    end = text.index("\n\n", start + 1)
    block = "\nserver:\n" + "".join(f"  {key}: {json.dumps(value)}\n" for key, value in server.items())
    return project_with(trained_ru, target, {text[start : end + 1]: block})


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
