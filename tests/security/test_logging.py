"""What botdesk logs never holds a full phone number: a lead flow end to end, with a CRM that fails first.

Every record of every logger, at DEBUG, through real HTTP: the customer's messages, the
bot's lead form, the outbox pushing the card to the CRM stub (refused once for good,
then delivered), an operator's lead card and an admin forgetting the customer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.project import Project
from bot.store import Lead, OperatorRole
from tests.handoff.crm.conftest import SECRET, StubServer
from tests.server.api_helpers import WEBHOOK, add_operator, logged_in
from tests.server.conftest import AppFactory, project_with, serve, state_of

PHONES = {
    "9261112233": "8 (926) 111-22-33",
    "9165554433": "+7 916 555-44-33",
    "9031112233": "89031112233",
    "9857776655": "+7 (985) 777 66 55",
}
SEPARATORS = re.compile(r"[\s\-().+]")


@pytest.fixture
async def stub(tmp_path: Path) -> AsyncIterator[StubServer]:
    server = StubServer(tmp_path / "crm-stub.db", SECRET)
    await server.start()
    yield server
    await server.stop()


async def crm_leads(stub: StubServer) -> int:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        return len((await client.get("/leads")).json()["leads"])


def leaked(records: list[logging.LogRecord]) -> list[str]:
    """Log lines that carry one of the phone numbers, whatever the separators."""
    found = []
    for record in records:
        text = record.getMessage() + (record.exc_text or "") + str(record.__dict__.get("extra", ""))
        digits = SEPARATORS.sub("", text)
        if any(phone in digits for phone in PHONES):
            found.append(f"{record.name}: {record.getMessage()}")
    return found


async def test_no_log_line_holds_a_full_phone_number(
    make_app: AppFactory,
    trained_ru: Project,
    tmp_path: Path,
    stub: StubServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("BOTDESK_CRM_SECRET", SECRET)
    crm = f"crm:\n  - adapter: webhook\n    url: {stub.url}/leads\n    secret_env: BOTDESK_CRM_SECRET\n"
    project = project_with(trained_ru, tmp_path / "bot", {"crm: []\n": crm})
    app = make_app(project)
    caplog.set_level(logging.DEBUG)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        async with httpx.AsyncClient(base_url=stub.url) as control:  # the CRM refuses the first card for good
            assert (await control.post("/_fail", json={"status": 422, "count": 1})).status_code == 200

        async def say(sender: str, text: str) -> list[dict[str, object]]:
            answer = await customer.post(WEBHOOK, json={"sender": sender, "message": text})
            assert answer.status_code == 200, answer.text
            replies: list[dict[str, object]] = answer.json()
            return replies

        for sender in ("anna", "boris"):
            await say(sender, "сколько стоит велосипед?")
            await say(sender, "да")
            await say(sender, "Анна")
            await say(sender, "12")  # not a number: asked again
            await say(sender, PHONES["9261112233"] if sender == "anna" else PHONES["9165554433"])
            done = await say(sender, "да")
            assert any("926111" in str(r["text"]) or "916555" in str(r["text"]) for r in done), done
        await say("ivan", f"позвоните мне на {PHONES['9031112233']}, это срочно")
        for _ in range(500):
            if await crm_leads(stub) >= 1:
                break
            await asyncio.sleep(0.02)
        assert await crm_leads(stub) == 1, "one card refused for good, the other delivered"

        await add_operator(app, "boss", OperatorRole.ADMIN)
        async with logged_in(base, "boss") as admin:
            async with state_of(app).db.reader() as session:
                lead = (await session.scalars(select(Lead).limit(1))).one()
            card = await admin.post(
                f"/api/conversations/{lead.conversation_id}/leads",
                json={"name": "Анна", "phone": PHONES["9857776655"], "consent": True},
            )
            assert card.status_code == 200, card.text
            assert (await admin.delete(f"/api/admin/customers/{lead.customer_id}")).status_code == 200

    assert any(r.name.startswith("botdesk") for r in caplog.records), "the flow did log"
    assert any("dead" in r.getMessage() or "refused" in r.getMessage() for r in caplog.records)
    assert leaked(caplog.records) == []
