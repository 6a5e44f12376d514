"""What botdesk logs never holds a full phone number: a lead flow end to end, with a CRM that fails first.

Every record of every logger, at DEBUG, through real HTTP: the customer's messages, the
bot's lead form, the outbox pushing the card to the CRM stub (refused once for good,
then delivered), an operator's lead card and an admin forgetting the customer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import WebSocket
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.privacy import keep_personal_data_out_of_logs
from bot.project import Project
from bot.store import Lead, OperatorRole
from tests.helpers.crm import SECRET, StubServer
from tests.helpers.server import AppFactory, asgi_client, project_with, serve, state_of
from tests.server.api_helpers import WEBHOOK, add_operator, logged_in

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


# ---- validation errors never carry their input into the log (issue 17) ------------------------
PASSWORD_SENT = "MySecretPassw0rd-4f1d"
TEXT_SENT = "customer-text-9a2e"


def holding(records: list[logging.LogRecord], *secrets: str) -> list[str]:
    """Records whose message, arguments or traceback (however rendered) hold one of ``secrets``."""
    found = []
    for record in records:
        rendered = logging.Formatter().format(record) + (record.exc_text or "")
        if any(secret in rendered for secret in secrets):
            found.append(f"{record.name}: {rendered[:300]}")
    return found


async def test_refused_requests_leave_no_password_or_text_in_the_log(
    make_app: AppFactory, all_logs: pytest.LogCaptureFixture
) -> None:
    """The requests that gave a 500 and logged the password, and their cousins, at DEBUG."""
    app = make_app()
    broken = "\ud800"
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        await add_operator(app, "boss", OperatorRole.ADMIN)

        async def post(path: str, payload: object, **headers: str) -> httpx.Response:
            body = json.dumps(payload).encode()  # ASCII: a lone surrogate travels as \ud800
            sent = {"content-type": "application/json", **headers}
            return await client.post(path, content=body, headers=sent)

        answers = [
            await post("/api/login", {"login": "opa", "password": PASSWORD_SENT * 60 + broken}),
            await post("/api/login", {"login": "opa", "password": PASSWORD_SENT * 60}),
            await post("/api/login", {"login": [PASSWORD_SENT], "password": PASSWORD_SENT}),
            await post("/api/login", {"login": "opa" + broken, "password": PASSWORD_SENT}),
            await client.post("/panel/login", data={"login": "opa", "password": PASSWORD_SENT * 60}),
            await post(WEBHOOK, {"sender": broken, "message": TEXT_SENT}),
            await post(WEBHOOK, {"sender": "u1", "message": TEXT_SENT, "metadata": {"name": broken}}),
        ]
        assert (await post(WEBHOOK, {"sender": "u1", "message": "привет"})).status_code == 200
        async with logged_in(base, "boss") as admin:
            csrf = {"x-csrf-token": admin.headers["X-CSRF-Token"]}
            client.cookies = admin.cookies
            for text in (TEXT_SENT + broken, TEXT_SENT * 1000, [TEXT_SENT]):
                answers.append(await post("/api/conversations/1/notes", {"text": text}, **csrf))
                answers.append(await post("/api/tickets/1/reply", {"text": text}, **csrf))
    assert holding(all_logs.records, PASSWORD_SENT, TEXT_SENT) == []
    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert all(PASSWORD_SENT not in a.text and TEXT_SENT not in a.text for a in answers), "not even echoed"


def test_a_widget_frame_that_breaks_is_not_logged(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    visitor = "/ws/chat?visitor=log-check-0123456789"
    with TestClient(make_app()) as client, client.websocket_connect(visitor) as ws:
        ws.receive_json(), ws.receive_json()  # status, history
        for frame in (
            {"type": "message", "text": TEXT_SENT + "\ud800", "client_id": "c1"},
            {"type": "transcript", "email": TEXT_SENT + "\ud800"},
            {"type": "message", "text": {"a": [TEXT_SENT]}},
        ):
            ws.send_text(json.dumps(frame))
            assert ws.receive_json()["type"] == "error"
    assert holding(caplog.records, TEXT_SENT) == []


class Shaped(BaseModel):
    text: str
    count: int


async def test_an_answer_that_breaks_its_model_is_logged_without_its_data(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug (a route answering what its model refuses) is a 500 whose log line holds no customer data."""
    caplog.set_level(logging.DEBUG)
    app = make_app()

    @app.get("/test/broken-answer", response_model=Shaped)
    async def broken_answer() -> dict[str, object]:
        return {"text": TEXT_SENT, "count": TEXT_SENT}

    @app.get("/test/broken-code")
    async def broken_code() -> dict[str, object]:
        return Shaped.model_validate({"text": TEXT_SENT, "count": TEXT_SENT}).model_dump()

    @app.websocket("/test/socket")
    async def socket(websocket: WebSocket, count: int) -> None:
        await websocket.accept()

    async with asgi_client(app) as client:
        answers = [await client.get("/test/broken-answer"), await client.get("/test/broken-code")]
    assert [a.status_code for a in answers] == [500, 500]
    assert all(TEXT_SENT not in a.text for a in answers)
    logged = [r.getMessage() for r in caplog.records if "failed validation" in r.getMessage()]
    assert len(logged) == 2 and all("count" in line for line in logged), logged
    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/test/socket?count={TEXT_SENT}") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 1008 and TEXT_SENT not in str(closed.value.reason)
    assert holding(caplog.records, TEXT_SENT) == []


def test_any_logger_shows_a_validation_error_without_its_input(caplog: pytest.LogCaptureFixture) -> None:
    """The net under everything: any logger, a pydantic error as an argument or in a traceback's chain."""
    keep_personal_data_out_of_logs()  # what the server does at start
    caplog.set_level(logging.DEBUG)
    anywhere = logging.getLogger("some.library")
    try:
        try:
            Shaped.model_validate({"text": PASSWORD_SENT, "count": PASSWORD_SENT})
        except ValidationError as exc:
            anywhere.warning("could not read %s", exc)
            raise RuntimeError("reading the settings failed") from exc
    except RuntimeError:
        anywhere.exception("while starting")
    assert len(caplog.records) == 2
    assert holding(caplog.records, PASSWORD_SENT) == []
    assert "count: Input should be a valid integer" in caplog.text  # what failed, still there
    assert "RuntimeError: reading the settings failed" in caplog.text
