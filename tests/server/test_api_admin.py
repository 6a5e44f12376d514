"""The admin API over real HTTP: accounts (list, create, disable, new password) and forgetting a customer."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select

from bot.store import Message, OperatorRole
from tests.helpers.server import AppFactory, serve, state_of
from tests.server.api_helpers import PASSWORD, WEBHOOK, add_operator, logged_in

PHONE = "+79161234567"


async def test_an_admin_manages_accounts(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "boss", OperatorRole.ADMIN)
        async with logged_in(base, "boss") as admin:
            created = await admin.post(
                "/api/admin/operators", json={"login": "anna", "display_name": "Анна", "role": "operator"}
            )
            taken = await admin.post("/api/admin/operators", json={"login": "anna", "password": PASSWORD})
            bad = await admin.post("/api/admin/operators", json={"login": "Анна!", "password": PASSWORD})
            short = await admin.post("/api/admin/operators", json={"login": "ivan", "password": "short"})
            generated = created.json()["password"]
            async with logged_in(base, "anna", generated) as anna:
                disabled = await admin.post("/api/admin/operators/anna/disable")
                locked_out = await anna.get("/api/me")
            listed = (await admin.get("/api/admin/operators")).json()
            myself = await admin.post("/api/admin/operators/boss/disable")
            await admin.post("/api/admin/operators/anna/enable")
            reset = await admin.post(
                "/api/admin/operators/anna/password", json={"password": "a new password"}
            )
            nobody = await admin.post("/api/admin/operators/nobody/enable")
            async with logged_in(base, "anna", "a new password") as anna:
                me = (await anna.get("/api/me")).json()
    assert created.status_code == 201 and created.json()["login"] == "anna" and len(generated) >= 12
    assert created.json()["display_name"] == "Анна" and created.json()["active"] is True
    assert taken.status_code == 409 and taken.json()["detail"] == "логин 'anna' уже занят"
    assert bad.status_code == 422 and short.status_code == 422
    assert disabled.json() == {"login": "anna", "active": False, "changed": True}
    assert locked_out.status_code == 401, "disabling ends the sessions at once"
    assert {(a["login"], a["active"]) for a in listed} >= {("boss", True), ("anna", False)}
    assert "password" not in repr(listed) and "hash" not in repr(listed)
    assert myself.status_code == 409 and "собственную учётную запись" in myself.json()["detail"]
    assert reset.json() == {"login": "anna", "sessions_ended": True}
    assert nobody.status_code == 404
    assert me["login"] == "anna" and me["role"] == "operator"


@pytest.mark.parametrize("role", [OperatorRole.OPERATOR, OperatorRole.EDITOR])
async def test_only_admins_reach_the_admin_api(make_app: AppFactory, role: OperatorRole) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "worker", role)
        async with logged_in(base, "worker") as client:
            answers = [
                await client.get("/api/admin/operators"),
                await client.post("/api/admin/operators", json={"login": "mole", "role": "admin"}),
                await client.post("/api/admin/operators/worker/password", json={}),
                await client.delete("/api/admin/customers/1"),
            ]
    assert [a.status_code for a in answers] == [403] * 4
    assert "нужна роль «администратор»" in answers[0].json()["detail"]


async def test_an_admin_forgets_a_customer_and_the_log_holds_no_personal_data(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "boss", OperatorRole.ADMIN)
        said = await customer.post(WEBHOOK, json={"sender": "anna-42", "message": f"мой номер {PHONE}"})
        await customer.post(WEBHOOK, json={"sender": "other", "message": "привет"})
        assert said.status_code == 200
        async with logged_in(base, "boss") as admin:
            async with state_of(app).db.reader() as session:
                conversation_id = await session.scalar(
                    select(Message.conversation_id).where(Message.text.contains(PHONE))
                )
            found = await admin.get(f"/api/conversations/{conversation_id}")
            customer_id = found.json()["customer"]["id"]
            with caplog.at_level(logging.INFO):
                forgotten = await admin.delete(f"/api/admin/customers/{customer_id}")
            unknown = await admin.delete("/api/admin/customers/999999")
            async with httpx.AsyncClient(base_url=base, cookies=admin.cookies) as no_header:
                no_csrf = await no_header.delete(f"/api/admin/customers/{customer_id}")
        async with state_of(app).db.reader() as session:
            texts = list((await session.scalars(select(Message.text))).all())
    assert forgotten.status_code == 200 and forgotten.json()["messages"] >= 2
    assert all(PHONE not in text for text in texts) and "привет" in texts
    assert unknown.status_code == 404 and "no customer 999999" in unknown.json()["detail"]
    assert no_csrf.status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "botdesk.privacy"]
    assert lines and f"customer {customer_id} forgotten by admin boss" in lines[0]
    assert all(PHONE not in r.getMessage() and "anna-42" not in r.getMessage() for r in caplog.records)
