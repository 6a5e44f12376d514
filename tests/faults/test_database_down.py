"""PostgreSQL unreachable for a while (a proxy in front of it is cut): 503 + Retry-After, then back."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from bot.store import Database, Message, Sender
from tests.faults.proxy import Proxy
from tests.helpers.server import AppFactory, serve
from tests.server.api_helpers import WEBHOOK

pytestmark = pytest.mark.postgres


async def test_clients_get_a_clear_503_while_the_database_is_away_and_service_resumes_without_restart(
    make_app: AppFactory, pg_url: str
) -> None:
    assert "127.0.0.1:5432" in pg_url
    async with Proxy("127.0.0.1", 5432) as proxy:
        app = make_app(database_url=pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        async with serve(app) as (base, _), httpx.AsyncClient(base_url=base, timeout=20) as client:
            before = await client.post(WEBHOOK, json={"sender": "d1", "message": "привет"})
            assert before.status_code == 200 and before.json()

            await proxy.cut()
            during = await client.post(WEBHOOK, json={"sender": "d1", "message": "сколько стоит доставка?"})
            health = await client.get("/healthz")
            polled = await client.get("/webhooks/rest/messages", params={"sender": "d1"})

            await proxy.start()  # the same address again; the server was not restarted
            after = await client.post(WEBHOOK, json={"sender": "d1", "message": "сколько стоит доставка?"})
            health_after = await client.get("/healthz")
    assert during.status_code == 503 and during.headers["Retry-After"] == "5"
    assert during.json() == {"detail": "the database is not available; nothing was stored, try again later"}
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert polled.status_code == 503 and "Retry-After" in polled.headers
    assert after.status_code == 200 and after.json()
    assert health_after.status_code == 200
    async with Database.open(pg_url) as db, db.reader() as session:
        said = await session.scalar(
            select(func.count()).select_from(Message).where(Message.sender == Sender.CUSTOMER)
        )
    assert said == 2  # the message refused during the outage was not half-stored
