"""``botdesk inbox``: the editor's inbox in the terminal and as JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.conversation import ConversationService
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, upgrade


async def recorded(project: Project, pipeline: Pipeline, url: str) -> None:
    async with Database.open(url) as db:
        await upgrade(db.engine)
        now = datetime.now(UTC) - timedelta(hours=1)
        customers = ConversationService(
            project.config, db.turns, lambda: pipeline, project.engine(0), clock=lambda: now
        )
        for sender, text in [
            ("a", "какая погода завтра"),
            ("b", "какая погода завтра?"),
            ("c", "доставка по Москве"),
        ]:
            await customers.handle(InboundMessage("web", sender, text))


def test_inbox_prints_the_groups_as_json(
    trained_ru: Project, ru_pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    asyncio.run(recorded(trained_ru, ru_pipeline, url))
    capsys.readouterr()
    assert main(["inbox", "--project", str(trained_ru.root), "--url", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 2
    (group,) = data["groups"]
    assert group["size"] == 2
    assert {m["text"] for m in group["messages"]} == {"какая погода завтра", "какая погода завтра?"}
    assert group["messages"][0]["reasons"] == ["fallback"]

    assert main(["inbox", "--project", str(trained_ru.root), "--url", url]) == 0
    assert "какая погода завтра" in capsys.readouterr().out

    assert (
        main(["inbox", "--project", str(trained_ru.root), "--url", url, "--json", "--since", "2999-01-01"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["groups"] == []

    assert main(["inbox", "--project", str(trained_ru.root), "--url", url, "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err
