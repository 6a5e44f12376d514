"""Who may call what, checked over every route the app has, so a route added later cannot slip through.

- Without a session, every ``/api`` route answers 401 and every ``/panel`` page sends
  the browser to the login form, except the routes in ``PUBLIC`` (customers' channels,
  the login itself, health, docs, the widget and its demo pages).
- Every state-changing ``/api`` request needs the session's ``X-CSRF-Token``.
- A route that declares roles (``require_role``) refuses everyone else with 403.
- Sessions end after ``operators.session_hours``; repeated wrong passwords are slowed (429).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.server.auth import BAD_CSRF, CSRF_HEADER, LOGIN_PATH, NOT_LOGGED_IN
from bot.store import OperatorRole
from handoff.accounts import add_account
from tests.server.conftest import AppFactory, Clock, state_of

PASSWORD = "correct horse battery"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# (method or "WS", path): open to anyone, on purpose. Adding a route here is a security decision.
PUBLIC = frozenset(
    {
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("POST", "/api/login"),
        ("GET", "/panel/login"),
        ("POST", "/panel/login"),
        ("POST", "/webhooks/rest/webhook"),  # customers (Rasa REST channel)
        ("GET", "/webhooks/rest/messages"),  # customers poll their own sender id
        ("POST", "/webhooks/telegram"),  # Telegram, with the secret token header
        ("GET", "/widget.js"),
        ("GET", "/widget.css"),
        ("GET", "/widget/config"),
        ("WS", "/ws/chat"),  # the widget's visitors
        ("GET", "/"),  # the demo shop
        ("GET", "/demo/bikes"),
        ("GET", "/demo/checkout"),
        ("MOUNT", "/panel/static"),  # the panel's JavaScript and CSS, no data
    }
)
# Changing state without an operator's session, by design: logging in creates the session.
NO_CSRF = frozenset({("POST", "/api/login")})


@dataclass(frozen=True)
class Endpoint:
    method: str  # an HTTP method, "WS" or "MOUNT"
    path: str
    dependant: Dependant | None

    @property
    def url(self) -> str:
        """The path with every parameter filled in ("1" fits every pattern the app uses)."""
        return re.sub(r"\{[^}]+\}", "1", self.path)

    def roles(self) -> frozenset[OperatorRole] | None:
        """The roles ``require_role`` lets in, or None when the route declares none."""
        found = list(_declared_roles(self.dependant)) if self.dependant is not None else []
        if not found:
            return None
        return frozenset.intersection(*found)


def _declared_roles(dependant: Dependant) -> Iterator[frozenset[OperatorRole]]:
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and inspect.isfunction(call) and call.__qualname__.startswith("require_role."):
            yield frozenset(inspect.getclosurevars(call).nonlocals["allowed"])
        yield from _declared_roles(sub)


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every route, from the routers the app really includes."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        kind = type(route).__name__
        dependant = getattr(route, "dependant", None)
        if kind == "Mount":
            found.append(Endpoint("MOUNT", context.path or "", None))
        elif "WebSocket" in kind:
            found.append(Endpoint("WS", context.path or "", dependant))
        else:
            for method in sorted((context.methods or set()) - {"HEAD"}):
                found.append(Endpoint(method, context.path or "", dependant))
    return found


def key(endpoint: Endpoint) -> tuple[str, str]:
    return endpoint.method, endpoint.path


def add(client: TestClient, app: FastAPI, login: str, role: OperatorRole) -> None:
    assert client.portal is not None
    client.portal.call(lambda: add_account(state_of(app).db, login, PASSWORD, role=role))


def log_in(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Log ``client`` in; returns the CSRF token (not set as a header)."""
    answer = client.post("/api/login", json={"login": login, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["csrf_token"]
    return token


def call(client: TestClient, endpoint: Endpoint, headers: dict[str, str] | None = None) -> int:
    return client.request(endpoint.method, endpoint.url, headers=headers, follow_redirects=False).status_code


@pytest.fixture
def app(make_app: AppFactory) -> FastAPI:
    return make_app()


def test_every_route_is_known_and_the_allowlist_is_not_stale(app: FastAPI) -> None:
    routes = {key(e) for e in endpoints(app)}
    assert routes >= PUBLIC, f"allowlisted but gone: {sorted(PUBLIC - routes)}"
    assert ("GET", "/api/admin/operators") in routes and ("WS", "/api/events") in routes


def test_nothing_but_the_allowlist_answers_without_a_login(app: FastAPI) -> None:
    with TestClient(app) as client:
        checked = []
        for endpoint in endpoints(app):
            if key(endpoint) in PUBLIC:
                continue
            checked.append(endpoint.path)
            if endpoint.method == "WS":
                with (
                    pytest.raises(WebSocketDisconnect) as closed,
                    client.websocket_connect(endpoint.url) as ws,
                ):
                    ws.receive_text()
                assert closed.value.code == 1008, endpoint
                continue
            answer = client.request(endpoint.method, endpoint.url, follow_redirects=False)
            if endpoint.path.startswith("/panel"):
                assert answer.status_code == 303, (endpoint, answer.status_code)
                assert answer.headers["location"].startswith(f"{LOGIN_PATH}?next="), endpoint
            else:
                assert answer.status_code == 401, (endpoint, answer.status_code, answer.text)
                assert answer.json() == {"detail": NOT_LOGGED_IN}, endpoint
    assert len(checked) >= 20


def test_every_state_change_needs_the_csrf_token(app: FastAPI) -> None:
    unsafe = [
        e
        for e in endpoints(app)
        if e.method in UNSAFE and e.path.startswith("/api") and key(e) not in NO_CSRF
    ]
    assert len(unsafe) >= 10
    with TestClient(app) as client:
        add(client, app, "boss", OperatorRole.ADMIN)
        token = log_in(client, "boss")
        for endpoint in unsafe:
            for headers in ({}, {CSRF_HEADER: "forged"}, {CSRF_HEADER: token[:-1]}):
                answer = client.request(endpoint.method, endpoint.url, headers=headers, json={})
                assert answer.status_code == 403, (endpoint, headers, answer.text)
                assert answer.json() == {"detail": BAD_CSRF}, endpoint
        assert client.get("/api/me").status_code == 200, "the session itself was fine all along"


@pytest.mark.parametrize("role", [OperatorRole.OPERATOR, OperatorRole.EDITOR])
def test_a_role_reaches_only_the_routes_declared_for_it(app: FastAPI, role: OperatorRole) -> None:
    declared = [(e, e.roles()) for e in endpoints(app) if e.method != "WS"]
    closed = [e for e, roles in declared if roles is not None and role not in roles]
    assert any(e.path.startswith("/api/admin/") for e in closed), "the admin API is closed to them"
    with TestClient(app) as client:
        add(client, app, "worker", role)
        token = log_in(client, "worker")
        for endpoint in closed:
            answer = client.request(endpoint.method, endpoint.url, headers={CSRF_HEADER: token}, json={})
            assert answer.status_code == 403, (endpoint, answer.text)
            assert "needs the" in answer.json()["detail"], endpoint


def test_an_editor_gets_no_live_dialogues(app: FastAPI) -> None:
    with TestClient(app) as client:
        add(client, app, "ed", OperatorRole.EDITOR)
        log_in(client, "ed")
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/api/events") as ws:
            ws.receive_text()
        queue = client.get("/api/queue")
    assert refused.value.code == 1008
    assert queue.status_code == 403


def test_a_session_ends_after_session_hours(app: FastAPI, clock: Clock) -> None:
    hours = None
    with TestClient(app) as client:
        hours = state_of(app).config.operators.session_hours
        add(client, app, "anna", OperatorRole.OPERATOR)
        log_in(client, "anna")
        clock.now += timedelta(hours=hours) - timedelta(minutes=1)
        still = client.get("/api/me").status_code
        page = client.get("/panel", follow_redirects=False).status_code
        clock.now += timedelta(minutes=2)
        expired = client.get("/api/me").status_code
        expired_page = client.get("/panel", follow_redirects=False)
    assert (still, page) == (200, 200)
    assert expired == 401
    assert expired_page.status_code == 303 and expired_page.headers["location"].startswith(LOGIN_PATH)


def test_guessing_passwords_is_slowed_down(app: FastAPI) -> None:
    with TestClient(app) as client:
        add(client, app, "anna", OperatorRole.OPERATOR)
        wrong = [
            client.post("/api/login", json={"login": "anna", "password": f"guess-{n}x"}) for n in range(5)
        ]
        locked = client.post("/api/login", json={"login": "anna", "password": PASSWORD})
        form = client.post(
            "/panel/login", data={"login": "anna", "password": PASSWORD}, follow_redirects=False
        )
        other = client.post("/api/login", json={"login": "nobody", "password": "guess-1x"})
    assert [a.status_code for a in wrong] == [401] * 5
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "try again in" in locked.json()["detail"] and "set-cookie" not in locked.headers
    assert form.status_code == 429 and "set-cookie" not in form.headers
    assert other.status_code == 401, "one login's lock does not lock the others"
