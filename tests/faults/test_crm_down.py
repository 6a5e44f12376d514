"""The CRM down for a whole load run: every lead card arrives exactly once after it is back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from bot.project import Project
from bot.store import OutboxItem, OutboxStatus
from bot.store.models import utcnow
from tests.helpers.crm import SECRET, StubServer
from tests.helpers.processes import free_port
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.server.api_helpers import WEBHOOK

pytestmark = pytest.mark.slow  # a real server, a load of dialogues, a CRM outage
CUSTOMERS = 16
DIALOGUE = ("перезвоните мне пожалуйста", "Иван", "PHONE", "согласен")


def phone(n: int) -> str:
    return f"+7916{2_000_000 + n:07d}"


async def leave_a_lead(client: httpx.AsyncClient, n: int) -> None:
    for text in DIALOGUE:
        answer = await client.post(
            WEBHOOK, json={"sender": f"lead-{n}", "message": phone(n) if text == "PHONE" else text}
        )
        assert answer.status_code == 200, answer.text  # the CRM's outage is nobody's business here


async def test_every_lead_arrives_exactly_once_after_a_crm_outage(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTDESK_CRM_SECRET", SECRET)
    crm = StubServer(tmp_path / "crm.db", SECRET)
    crm.port = free_port()  # nothing listens there yet: connections are refused
    project = project_with(
        trained_ru,
        tmp_path / "bot",
        {"crm: []\n": f"crm:\n  - adapter: webhook\n    url: {crm.url}/leads\n    timeout: 2\n"},
    )
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base, timeout=20) as client:
        state = state_of(app)
        await asyncio.gather(*(leave_a_lead(client, n) for n in range(CUSTOMERS)))
        later = utcnow()
        for _ in range(3):  # refused, and retried on the worker's own schedule
            later += timedelta(hours=1)
            await state.outbox.run_once(later)

        await crm.start()
        async with httpx.AsyncClient(base_url=crm.url) as admin:
            await admin.post("/_fail", json={"status": 500, "count": 5})  # back, but shaky at first
        for _ in range(20):  # time passes: every backoff ends
            later += timedelta(hours=1)
            await state.outbox.run_once(later)
            async with state.db.reader() as session:
                pending = list(
                    await session.scalars(
                        select(OutboxItem.id).where(OutboxItem.status == OutboxStatus.PENDING)
                    )
                )
            if not pending:
                break
        async with state.db.session() as session:  # a worker that died after the CRM said yes
            await session.execute(
                update(OutboxItem).values(status=OutboxStatus.PENDING, next_attempt_at=utcnow())
            )
            await session.commit()
        await state.outbox.run_once(later + timedelta(hours=1))
        async with state.db.reader() as session:
            statuses = list(await session.scalars(select(OutboxItem.status)))
        async with httpx.AsyncClient(base_url=crm.url) as admin:
            cards = (await admin.get("/leads")).json()
        await crm.stop()
    assert pending == []
    assert statuses == [OutboxStatus.SENT] * CUSTOMERS
    leads = cards["leads"]
    assert sorted(lead["card"]["phone"] for lead in leads) == sorted(phone(n) for n in range(CUSTOMERS))
    assert len({card["idempotency_key"] for card in leads}) == CUSTOMERS
