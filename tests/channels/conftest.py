"""The fake Bot API under uvicorn, and botdesk pointed at it through the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.telegram.fake_telegram import FakeTelegram
from tests.server.conftest import clock, make_app, serve, sqlite_url  # noqa: F401  (fixtures)

SECRET = "test-webhook-secret_123"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    telegram = FakeTelegram()
    async with serve(telegram.app) as (url, _):
        telegram.base_url = f"{url}/bot"
        yield telegram


@pytest.fixture
def telegram_env(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> FakeTelegram:
    """TELEGRAM_* variables as an admin sets them, the base URL pointing at the fake."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.base_url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("TELEGRAM_API_FILE_URL", raising=False)
    return fake
