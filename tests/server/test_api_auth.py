"""Panel authentication over real HTTP: sessions, CSRF, roles, throttling, the first admin."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import httpx
import pytest

from bot.store import OperatorRole
from tests.helpers.server import AppFactory, Clock, serve, state_of
from tests.server.api_helpers import PASSWORD, add_operator, logged_in


async def test_login_me_and_logout(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna", name="Анна")
        async with httpx.AsyncClient(base_url=base) as client:
            answer = await client.post("/api/login", json={"login": "anna", "password": PASSWORD})
            cookie = answer.headers["set-cookie"]
            csrf = answer.json()["csrf_token"]
            me = (await client.get("/api/me")).json()
            no_csrf = await client.post("/api/logout")
            out = await client.post("/api/logout", headers={"X-CSRF-Token": csrf})
            after = await client.get("/api/me")
    assert answer.status_code == 200
    assert answer.json()["operator"]["display_name"] == "Анна"
    assert "botdesk_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; https gets a Secure cookie
    assert me["login"] == "anna" and me["role"] == "operator" and me["csrf_token"] == csrf
    assert me["status"] == "online" and me["max_parallel"] == 5
    assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["detail"]
    assert out.json() == {"ok": True}
    assert after.status_code == 401


async def test_a_stolen_cookie_stops_working_after_logout(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as client:
            token = client.cookies["botdesk_session"]
            await client.post("/api/logout")
        async with httpx.AsyncClient(base_url=base, cookies={"botdesk_session": token}) as thief:
            answer = await thief.get("/api/me")
    assert answer.status_code == 401


async def test_wrong_password_and_unknown_login_look_the_same(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        await add_operator(app, "anna")
        wrong = await client.post("/api/login", json={"login": "anna", "password": "nope-nope"})
        unknown = await client.post("/api/login", json={"login": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "неверный логин или пароль"}  # the bot's language
    assert "set-cookie" not in wrong.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/me"),
        ("GET", "/api/queue"),
        ("GET", "/api/operators"),
        ("GET", "/api/conversations/1"),
        ("POST", "/api/tickets/1/claim"),
        ("PUT", "/api/me/status"),
    ],
)
async def test_the_api_needs_a_session(make_app: AppFactory, method: str, path: str) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        answer = await client.request(method, path, json={"status": "away"})
    assert answer.status_code == 401
    assert "/panel/login" in answer.json()["detail"]


async def test_state_changes_need_the_csrf_token(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as client:
            good = client.headers.pop("X-CSRF-Token")
            missing = await client.put("/api/me/status", json={"status": "away"})
            wrong = await client.put("/api/me/status", json={"status": "away"}, headers={"X-CSRF-Token": "x"})
            reading = await client.get("/api/queue")  # reading needs no token
            right = await client.put(
                "/api/me/status", json={"status": "away"}, headers={"X-CSRF-Token": good}
            )
    assert missing.status_code == wrong.status_code == 403
    assert reading.status_code == 200
    assert right.status_code == 200 and right.json()["status"] == "away"


async def test_roles(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "eva", OperatorRole.EDITOR)
        await add_operator(app, "boss", OperatorRole.ADMIN)
        async with logged_in(base, "eva") as editor, logged_in(base, "boss") as admin:
            editor_queue = await editor.get("/api/queue")
            editor_claim = await editor.post("/api/tickets/1/claim")
            editor_me = await editor.get("/api/me")
            admin_queue = await admin.get("/api/queue")
    assert editor_queue.status_code == editor_claim.status_code == 403
    assert "оператор или администратор" in editor_queue.json()["detail"]
    assert editor_me.status_code == 200  # an editor is logged in, just not a dialogue worker
    assert admin_queue.status_code == 200 and admin_queue.json() == {"waiting": [], "mine": []}


async def test_five_wrong_passwords_lock_the_login_for_a_while(make_app: AppFactory, clock: Clock) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        await add_operator(app, "anna")
        await add_operator(app, "boris")
        wrong = [
            (await client.post("/api/login", json={"login": "anna", "password": f"guess-{i}"})).status_code
            for i in range(5)
        ]
        locked = await client.post("/api/login", json={"login": "anna", "password": PASSWORD})
        other = await client.post("/api/login", json={"login": "boris", "password": PASSWORD})
        clock.now += timedelta(minutes=5, seconds=1)
        later = await client.post("/api/login", json={"login": "anna", "password": PASSWORD})
    assert wrong == [401] * 5
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "слишком много неверных паролей" in locked.json()["detail"]
    assert other.status_code == 200  # only the attacked login waits
    assert later.status_code == 200


async def test_panel_login_form(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        await add_operator(app, "anna")
        form = await client.get("/panel/login", params={"next": "/panel?tab=queue"})
        failed = await client.post(
            "/panel/login", data={"login": "anna", "password": "wrong-one", "next": "/panel"}
        )
        offsite = await client.post(
            "/panel/login", data={"login": "anna", "password": PASSWORD, "next": "//evil.example/x"}
        )
        good = await client.post(
            "/panel/login", data={"login": "anna", "password": PASSWORD, "next": "/panel?tab=queue"}
        )
        me = await client.get("/api/me")
    assert form.status_code == 200 and 'name="password"' in form.text
    assert 'value="/panel?tab=queue"' in form.text
    assert failed.status_code == 401 and "Неверный логин или пароль" in failed.text
    assert offsite.status_code == 303 and offsite.headers["location"] == "/panel"
    assert good.status_code == 303 and good.headers["location"] == "/panel?tab=queue"
    assert me.status_code == 200


async def test_panel_pages_redirect_to_the_login_form(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        answer = await client.post("/panel/logout", data={"csrf_token": "x"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/panel/login?next=/panel/logout"


async def test_panel_logout_checks_the_csrf_field(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as client:
            csrf = client.headers.pop("X-CSRF-Token")
            forged = await client.post("/panel/logout", data={"csrf_token": "forged"})
            still = await client.get("/api/me")
            out = await client.post("/panel/logout", data={"csrf_token": csrf})
            gone = await client.get("/api/me")
    assert forged.status_code == 403 and still.status_code == 200
    assert out.status_code == 303 and out.headers["location"] == "/panel/login"
    assert gone.status_code == 401


async def test_a_disabled_operator_is_logged_out_at_once(make_app: AppFactory) -> None:
    from handoff.accounts import set_active

    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as client:
            await set_active(state_of(app).db, "anna", False)
            answer = await client.get("/api/me")
            again = await client.post("/api/login", json={"login": "anna", "password": PASSWORD})
    assert answer.status_code == 401 and again.status_code == 401


async def test_first_start_creates_an_admin_and_says_the_password_once(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOTDESK_ADMIN_PASSWORD", raising=False)
    caplog.set_level(logging.INFO, "botdesk")
    async with serve(make_app()) as (base, _):
        said = [r.getMessage() for r in caplog.records if "first start" in r.getMessage()]
        assert len(said) == 1
        match = re.search(r"panel admin login 'admin', password '([^']+)'", said[0])
        assert match is not None
        async with logged_in(base, "admin", match.group(1)) as client:
            me = (await client.get("/api/me")).json()
    caplog.clear()
    async with serve(make_app()):  # the same database: the admin exists, nothing is printed
        pass
    assert me["role"] == "admin"
    assert not [r for r in caplog.records if "password" in r.getMessage()]


async def test_the_admin_password_can_come_from_the_environment(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTDESK_ADMIN_PASSWORD", "from-the-environment")
    caplog.set_level(logging.INFO, "botdesk")
    async with serve(make_app()) as (base, _), logged_in(base, "admin", "from-the-environment") as client:
        me = (await client.get("/api/me")).json()
    assert me["role"] == "admin"
    assert not [r for r in caplog.records if "from-the-environment" in r.getMessage()]


async def test_a_session_ends_after_session_hours(make_app: AppFactory, clock: Clock) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as client:
            clock.now += timedelta(hours=11, minutes=59)
            still = await client.get("/api/me")
            clock.now += timedelta(minutes=2)
            expired = await client.get("/api/me")
    assert still.status_code == 200
    assert expired.status_code == 401
