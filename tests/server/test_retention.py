"""privacy.retention_days: the running server deletes conversations older than that, by itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from bot.project import Project
from bot.store import Conversation, Message
from tests.helpers.server import AppFactory, Clock, project_with, serve, state_of
from tests.server.api_helpers import WEBHOOK


async def test_the_maintenance_loop_deletes_expired_conversations(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, clock: Clock
) -> None:
    project = project_with(trained_ru, tmp_path / "bot", {"retention_days: null": "retention_days: 30"})
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        for sender in ("old", "new"):
            assert (
                await client.post(WEBHOOK, json={"sender": sender, "message": "привет"})
            ).status_code == 200
        db = state_of(app).db
        async with db.session() as session:
            old_id = await session.scalar(select(Message.conversation_id).order_by(Message.id).limit(1))
            then = clock.now - timedelta(days=31)
            await session.execute(
                update(Conversation).where(Conversation.id == old_id).values(started_at=then, updated_at=then)
            )
            await session.execute(
                update(Message).where(Message.conversation_id == old_id).values(created_at=then)
            )
            await session.commit()
        clock.now += timedelta(hours=2)  # the next pass is due (privacy.purge_every_minutes: 60)

        remaining = {old_id}
        for _ in range(500):  # the loop ticks every 0.05 s here
            async with db.reader() as session:
                remaining = set((await session.scalars(select(Conversation.id))).all())
            if old_id not in remaining:
                break
            await asyncio.sleep(0.02)
    assert old_id not in remaining and len(remaining) == 1
