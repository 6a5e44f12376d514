"""Who may call what, checked over every route the app has, so a route added later cannot slip through.

- Without a session, every ``/api`` route answers 401 and every ``/panel`` page sends
  the browser to the login form, except the routes in ``PUBLIC`` (customers' channels,
  the login itself, health, docs, the widget and its demo pages).
- Every state-changing ``/api`` request needs the session's ``X-CSRF-Token``.
- A route that declares roles (``require_role``) refuses everyone else with 403.
- Least privilege: every editor route (``/api/editor/*``, ``/panel/editor``) declares the
  editor role and refuses an operator; an admin can grant an operator the editor role
  (rights are the union) and revoke it again.
- Sessions end after ``operators.session_hours``; repeated wrong passwords are slowed (429).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.i18n.catalog import translator
from bot.server.auth import BAD_CSRF, CSRF_HEADER, LOGIN_PATH, NOT_LOGGED_IN, SESSION_COOKIE
from bot.store import OperatorRole
from handoff.accounts import add_account
from tests.helpers.server import AppFactory, Clock, state_of

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
        ("GET", "/webhooks/rest/"),  # Rasa's REST channel check: {"status": "ok"}
        ("POST", "/webhooks/rest/webhook"),  # customers (Rasa REST channel)
        ("GET", "/webhooks/rest/messages"),  # customers poll their own sender id
        ("POST", "/webhooks/telegram"),  # Telegram, with the secret token header
        ("GET", "/widget.js"),
        ("GET", "/widget.css"),
        ("GET", "/widget/config"),
        ("WS", "/ws/chat"),  # the widget's visitors
        ("POST", "/widget/files"),  # a visitor's file, with their visitor id (X-Botdesk-Visitor)
        ("GET", "/widget/files/{file_id}"),  # only the visitor's own files (404 for anyone else's)
        ("OPTIONS", "/widget/files"),  # CORS preflight of the two above
        ("OPTIONS", "/widget/files/{file_id}"),
        ("GET", "/"),  # the demo shop
        ("GET", "/demo/bikes"),
        ("GET", "/demo/checkout"),
        ("MOUNT", "/panel/static"),  # the panel's JavaScript and CSS, no data
    }
)
EDITOR_PREFIXES = ("/api/editor/", "/panel/editor")
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


def refusal(answer: Any) -> str:
    """The sentence of a 403: the JSON detail of an API route, the text of a page."""
    if answer.headers.get("content-type", "").startswith("text/html"):
        return str(answer.text)
    return str(answer.json()["detail"])


def editor_routes(app: FastAPI) -> list[Endpoint]:
    """Every route of the editor's area, from the app's route table (a new one is found too)."""
    return [e for e in endpoints(app) if e.path.startswith(EDITOR_PREFIXES) and e.method != "MOUNT"]


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
                assert answer.json() == {"detail": translator("ru")(NOT_LOGGED_IN)}, endpoint
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
                assert answer.json() == {"detail": translator("ru")(BAD_CSRF, header=CSRF_HEADER)}, endpoint
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
            assert "нужна роль" in refusal(answer), endpoint


def test_every_editor_route_declares_the_editor_role_and_refuses_an_operator(app: FastAPI) -> None:
    routes = editor_routes(app)
    assert {("GET", "/panel/editor"), ("GET", "/api/editor/inbox"), ("GET", "/api/editor/intents")} <= {
        key(e) for e in routes
    }
    assert {("GET", "/api/editor/annotations"), ("POST", "/api/editor/annotations")} <= {
        key(e) for e in routes
    }
    for endpoint in routes:
        assert endpoint.roles() == {OperatorRole.EDITOR, OperatorRole.ADMIN}, endpoint
    with TestClient(app) as client:
        add(client, app, "anna", OperatorRole.OPERATOR)
        token = log_in(client, "anna")
        for endpoint in routes:
            if endpoint.method == "WS":
                continue
            answer = client.request(
                endpoint.method, endpoint.url, headers={CSRF_HEADER: token}, json={}, follow_redirects=False
            )
            assert answer.status_code == 403, (endpoint, answer.status_code)
            assert "нужна роль «редактор или администратор»; у вас: оператор" in refusal(answer), endpoint
        proposal = client.post(
            "/api/editor/annotations",
            headers={CSRF_HEADER: token},
            json={"message_ids": [1], "action": "assign", "intent": "greet"},
        )
        page = client.get("/panel", follow_redirects=False)
    assert proposal.status_code == 403, "operators no longer propose labels"
    assert page.status_code == 200 and 'data-testid="editor-link"' not in page.text


@pytest.mark.parametrize("role", [OperatorRole.EDITOR, OperatorRole.ADMIN])
def test_editors_and_admins_reach_every_editor_page_and_list(app: FastAPI, role: OperatorRole) -> None:
    reads = [e for e in editor_routes(app) if e.method == "GET"]
    with TestClient(app) as client:
        add(client, app, "ed", role)
        log_in(client, "ed")
        answers = {e.path: call(client, e) for e in reads}
    assert {path: status for path, status in answers.items() if status in (401, 403)} == {}


def test_an_admin_grants_an_operator_the_editor_role_and_takes_it_back(app: FastAPI) -> None:
    with TestClient(app) as client:  # one client (one lifespan), two sessions: the cookie is swapped
        add(client, app, "boss", OperatorRole.ADMIN)
        add(client, app, "anna", OperatorRole.OPERATOR)
        boss_csrf = log_in(client, "boss")
        boss = client.cookies[SESSION_COOKIE]
        client.cookies.clear()
        log_in(client, "anna")
        anna = client.cookies[SESSION_COOKIE]

        def as_(cookie: str, method: str, url: str) -> Any:
            client.cookies.clear()
            client.cookies.set(SESSION_COOKIE, cookie)
            headers = {CSRF_HEADER: boss_csrf} if cookie == boss else {CSRF_HEADER: "not hers"}
            return client.request(method, url, headers=headers, follow_redirects=False)

        before = as_(anna, "GET", "/api/editor/inbox").status_code
        granted = as_(boss, "PUT", "/api/admin/operators/anna/roles/editor")
        inbox, page = as_(anna, "GET", "/api/editor/inbox"), as_(anna, "GET", "/panel/editor")
        queue, workspace = as_(anna, "GET", "/api/queue"), as_(anna, "GET", "/panel")
        listed = {a["login"]: a for a in as_(boss, "GET", "/api/admin/operators").json()}
        own_role = as_(boss, "DELETE", "/api/admin/operators/anna/roles/operator")
        revoked = as_(boss, "DELETE", "/api/admin/operators/anna/roles/editor")
        after = as_(anna, "GET", "/api/editor/inbox").status_code
        by_anna = as_(anna, "GET", "/api/admin/operators")
    assert before == 403
    assert granted.status_code == 200 and granted.json() == {"login": "anna", "roles": ["editor", "operator"]}
    assert (inbox.status_code, page.status_code) == (200, 200), "the editor role opens the editor's area"
    assert (queue.status_code, workspace.status_code) == (200, 200), "and she still works dialogues"
    assert 'data-testid="editor-link"' in workspace.text and "оператор + редактор" in workspace.text
    assert listed["anna"]["roles"] == ["editor", "operator"] and listed["anna"]["role"] == "operator"
    assert own_role.status_code == 422, "the account's own role is not a grant"
    assert revoked.status_code == 200 and revoked.json()["roles"] == ["operator"]
    assert after == 403
    assert by_anna.status_code == 403


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
    assert "попробуйте через" in locked.json()["detail"] and "set-cookie" not in locked.headers
    assert form.status_code == 429 and "set-cookie" not in form.headers
    assert other.status_code == 401, "one login's lock does not lock the others"
