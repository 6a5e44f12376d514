"""Telegram's webhook takes updates only with the secret token; nothing else gets in or is stored."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.project import Project
from bot.store import Message
from tests.channels.telegram.fake_telegram import FakeTelegram
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.helpers.telegram import SECRET

HEADER = "X-Telegram-Bot-Api-Secret-Token"
WRONG: list[str | bytes] = [
    "",
    "guess-THE-secret-42",
    SECRET[:-1],
    SECRET + "x",
    SECRET.upper(),
    SECRET[::-1],
    "x" * 4000,
    "ё".encode() * len(SECRET),  # not ASCII at all
]


def raw(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


async def test_a_wrong_secret_is_refused_and_stores_nothing(
    telegram_env: FakeTelegram,
    make_app: AppFactory,
    trained_ru: Project,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = telegram_env
    project = project_with(
        trained_ru,
        tmp_path / "webhook-bot",
        {"    mode: polling": "    mode: webhook\n    webhook_url: https://shop.example/webhooks/telegram"},
    )
    app = make_app(project)
    update = fake.update(message=fake.message(424242, text="как оплатить заказ?"))
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        with caplog.at_level(logging.WARNING):
            missing = await client.post("/webhooks/telegram", json=update)
            refused = [
                await client.post("/webhooks/telegram", json=update, headers=[(HEADER.encode(), raw(secret))])
                for secret in WRONG[1:]
            ]
        async with state_of(app).db.reader() as session:
            stored = await session.scalar(select(func.count()).select_from(Message))
        right = await client.post("/webhooks/telegram", json=update, headers={HEADER: SECRET})
    assert missing.status_code == 403 and HEADER in missing.json()["detail"]
    assert [answer.status_code for answer in refused] == [403] * len(WRONG[1:])
    assert stored == 0
    assert right.status_code == 200, "the right secret still works"
    logged = [r.getMessage() for r in caplog.records]
    assert sum("wrong secret token refused" in line for line in logged) == len(WRONG)
    assert not any(SECRET in line or "guess-THE-secret" in line for line in logged), "no secret is logged"
