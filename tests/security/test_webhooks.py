"""Telegram's webhook and VK's Callback API take events only with their secret; nothing else gets in."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.project import Project
from bot.store import Message
from tests.channels.telegram.fake_telegram import FakeTelegram
from tests.channels.vk.fake_vk import SECRET as VK_SECRET
from tests.channels.vk.fake_vk import FakeVk
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


async def test_vk_callback_without_the_communitys_secret_key_is_refused_and_stores_nothing(
    vk_env: FakeVk,
    make_app: AppFactory,
    trained_ru: Project,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = vk_env
    project = project_with(
        trained_ru, tmp_path / "vk-bot", {"\nchannels:\n": "\nchannels:\n  vk:\n    mode: callback\n"}
    )
    app = make_app(project)
    wrong: list[object] = [
        None,  # no "secret" at all
        "",
        "guessTHEsecret42",
        VK_SECRET[:-1],
        VK_SECRET + "x",
        VK_SECRET.upper(),
        "x" * 4000,
        "ё" * len(VK_SECRET),
        123,
        ["testsecret123"],
    ]
    event = fake.text(424242, "как оплатить заказ?")
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        with caplog.at_level(logging.WARNING):
            refused = []
            for secret in wrong:
                body = {**event} if secret is None else {**event, "secret": secret}
                refused.append(await client.post("/webhooks/vk", json=body))
        async with state_of(app).db.reader() as session:
            stored = await session.scalar(select(func.count()).select_from(Message))
        right = await client.post("/webhooks/vk", json={**event, "secret": VK_SECRET})
    assert [answer.status_code for answer in refused] == [403] * len(wrong)
    assert all(answer.text != "ok" for answer in refused)
    assert stored == 0
    assert (right.status_code, right.text) == (200, "ok"), "the right secret key still works"
    logged = [r.getMessage() for r in caplog.records]
    assert sum("wrong secret key refused" in line for line in logged) == len(wrong)
    assert not any(VK_SECRET in line or "guessTHEsecret" in line for line in logged), "no secret is logged"
