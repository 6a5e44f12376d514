"""``botdesk customer forget | purge-expired``: personal data deleted from the command line."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.cli import main
from bot.store import (
    Conversation,
    Database,
    Message,
    upgrade,
)
from bot.store.models import utcnow
from tests.helpers.projects import REPO, copy_project
from tests.helpers.store import customer_says

PHONE = "+79161234567"


def seed(url: str, sender: str, text: str, days_old: float = 0) -> int:
    """A customer who said ``text`` ``days_old`` days ago; returns the customer id."""

    async def run() -> int:
        async with Database.open(url) as db:
            await upgrade(db.engine)
            entered = await customer_says(db, text, channel="rest", sender=sender)
            async with db.session() as session:
                if days_old:
                    then = utcnow() - timedelta(days=days_old)
                    await session.execute(
                        update(Conversation)
                        .where(Conversation.id == entered.conversation_id)
                        .values(started_at=then, updated_at=then)
                    )
                    await session.execute(
                        update(Message)
                        .where(Message.conversation_id == entered.conversation_id)
                        .values(created_at=then)
                    )
                    await session.commit()
                return entered.customer_id

    return asyncio.run(run())


def texts(url: str) -> list[str]:
    async def run() -> list[str]:
        async with Database.open(url) as db, db.reader() as session:
            return sorted((await session.scalars(select(Message.text))).all())

    return asyncio.run(run())


def conversations(url: str) -> int:
    async def run() -> int:
        async with Database.open(url) as db, db.reader() as session:
            return int(await session.scalar(select(func.count()).select_from(Conversation)) or 0)

    return asyncio.run(run())


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'privacy.db'}"


def test_forget_deletes_what_the_customer_said(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    anna = seed(url, "anna", f"мой телефон {PHONE}")
    seed(url, "ivan", "где мой заказ")
    code = main(["customer", "forget", str(anna), "--yes", "--url", url, "--json"])
    report = json.loads(capsys.readouterr().out)
    again = main(["customer", "forget", "4242", "--yes", "--url", url])
    assert code == 0 and report["customer_id"] == anna and report["messages"] == 1
    assert texts(url) == ["где мой заказ"]
    assert again == 2 and "there is no customer 4242" in capsys.readouterr().err


def test_forget_asks_first(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    anna = seed(url, "anna", "привет")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["customer", "forget", str(anna), "--url", url]) == 1  # aborted
    assert texts(url) == ["привет"]


def test_purge_expired_uses_the_config_or_days(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(REPO, tmp_path / "bot")
    seed(url, "old", "старый вопрос", days_old=100)
    seed(url, "recent", "свежий вопрос", days_old=10)
    off = main(["customer", "purge-expired", "--project", str(project), "--url", url])
    assert off == 2 and "retention is off" in capsys.readouterr().err
    config = project / "config.yml"
    text = config.read_text(encoding="utf-8")
    assert "retention_days: null" in text, "the default bot keeps conversations"
    config.write_text(text.replace("retention_days: null", "retention_days: 30"), encoding="utf-8")
    assert main(["customer", "purge-expired", "--project", str(project), "--url", url]) == 0
    assert "deleted 1 conversations older than 30 days" in capsys.readouterr().out
    assert texts(url) == ["свежий вопрос"]
    assert main(["customer", "purge-expired", "--days", "5", "--url", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["conversations"] == 1
    assert conversations(url) == 0
