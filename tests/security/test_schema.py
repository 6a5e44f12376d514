"""No request gets a 5xx: schemathesis over the OpenAPI schema, and hostile payloads on every operation.

botdesk runs under real uvicorn on 127.0.0.1 (a thread, one server for the module);
every request is sent logged in as an admin with the session's CSRF token, so the checks
reach past authentication into each route's own validation.

- schemathesis generates requests from the schema of the JSON API, the REST webhook and
  the widget config. Examples are bounded per operation (``BOTDESK_SCHEMA_EXAMPLES``,
  default 15; a fifth of that for the operations that start a retrain, a publish or a KPI
  computation); ``/api/logout`` is left out (it would end the session the other
  operations run under; the auth tests cover it).
- schemathesis never sends what the outside attack test did (issue 17), so every
  operation of the schema also gets those, built from its own schema: a lone surrogate in
  every string field, in a key, in every path and query parameter; wrong types and
  huge numbers in every field; 5,000 levels of nesting; NaN; and the same in every field
  of every frame of the widget's WebSocket and on the panel's live feed, plus the login
  form. No answer may be a 5xx, no socket may close with 1011, and the server may log no
  error and no traceback.

About three minutes on the dev machine: marked ``slow``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.server.app import create_app
from bot.server.auth import SESSION_COOKIE
from bot.store import Database, OperatorRole
from handoff.accounts import add_account
from tests.helpers.logs import server_errors
from tests.helpers.projects import REPO
from tests.helpers.server import Clock
from tests.live import serving

ADMIN = "schemathesis-admin-7f3a"  # a login the generated paths will not hit by chance
PASSWORD = "schemathesis password"
pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("BOTDESK_SCHEMA_EXAMPLES", "15"))

# Operations that start long work (a retrain, a publish, a KPI period): fewer examples, same check.
HEAVY = r"^/api/(editor/(train|publish|gate)|kpis)"
OPENAPI = create_app(Project.open(REPO)).openapi()
schema = (
    schemathesis.openapi.from_dict(OPENAPI)
    .include(path_regex=r"^/(api/|webhooks/rest/|widget/config$)")
    .exclude(path="/api/logout")
    .exclude(path_regex=HEAVY)
)
heavy = schemathesis.openapi.from_dict(OPENAPI).include(path_regex=HEAVY)  # (a second include would widen)


@pytest.fixture(scope="module")
def server(
    trained_ru: Project, ru_pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """botdesk on a free port of 127.0.0.1, in a thread with its own event loop."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'schema.db'}"
    app = create_app(
        trained_ru, pipeline=ru_pipeline, clock=Clock(), database_url=database_url, shutdown_timeout=5.0
    )
    with serving(app) as base:
        _add_admin(database_url)
        yield base


def _add_admin(database_url: str) -> None:
    async def add() -> None:
        async with Database.open(database_url) as db:
            await add_account(db, ADMIN, PASSWORD, role=OperatorRole.ADMIN)

    asyncio.run(add())


@pytest.fixture(scope="module")
def admin(server: str) -> Iterator[requests.Session]:
    """A logged-in admin's session: the cookie, and the CSRF header every unsafe request needs."""
    with requests.Session() as session:
        answer = session.post(f"{server}/api/login", json={"login": ADMIN, "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200, answer.text
        session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield session


BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


@schema.parametrize()
@BOUNDED
def test_no_server_errors(case: schemathesis.Case[Any], server: str, admin: requests.Session) -> None:
    response = case.call(base_url=server, session=admin, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


@heavy.parametrize()
@settings(BOUNDED, max_examples=max(2, EXAMPLES // 5))
def test_no_server_errors_from_long_running_operations(
    case: schemathesis.Case[Any], server: str, admin: requests.Session
) -> None:
    response = case.call(base_url=server, session=admin, timeout=60)
    case.validate_response(response, checks=[not_a_server_error])


def test_the_admin_is_still_logged_in_after_the_run(server: str, admin: requests.Session) -> None:
    """The fuzzing above ran past the login: an expired or revoked session would have made it shallow."""
    assert admin.get(f"{server}/api/me", timeout=10).json()["login"] == ADMIN


# ---- what the outside attack test sent (issue 17), on every operation --------------------------
MARK = "hostile-7c1e"
SURROGATE = "\ud800"  # json.dumps writes it as \ud800: valid JSON syntax, no UTF-8 text
CESU_SURROGATE = "%ED%A0%80"  # the same in a URL, as UTF-8-style bytes
DEEP = 5000
WRONG_TYPES: list[Any] = [{"x": 1}, ["x"], True, None, "x", 10**40, -(10**40), 1.5]
HUGE_NUMBERS: list[Any] = [10**40, -(10**40)]
RAW_BODIES = [
    "[" * DEEP + "]" * DEEP,
    '{"a":' * DEEP + "1" + "}" * DEEP,  # 30,001 characters: under the widget's frame limit
    '{"x": NaN}',
    "[1e400]",
    json.dumps({SURROGATE + MARK: 1}),
    json.dumps([SURROGATE + MARK]),
]
PARAMETER_VALUES = [CESU_SURROGATE + MARK, "9" * 40, "-" + "9" * 40, "1e400", "x", "", "[]"]
COMPONENTS = OPENAPI.get("components", {}).get("schemas", {})


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with ``$ref`` followed and a nullable ``anyOf`` reduced to its non-null type."""
    while "$ref" in node:
        node = COMPONENTS[node["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [resolve(option) for option in node[key]]
            typed = [option for option in options if option.get("type") != "null"]
            node = {**node, **(typed or options)[0]}
            node.pop(key, None)
    return node


def example(node: dict[str, Any]) -> Any:
    """A value that fits ``node`` (every property of an object filled in), to spoil one part at a time."""
    node = resolve(node)
    if "properties" in node:
        return {name: example(sub) for name, sub in node["properties"].items()}
    if node.get("enum"):
        return node["enum"][0]
    kind = node.get("type")
    if kind == "array":
        return [example(node.get("items", {}))]
    if kind == "integer":
        return max(1, int(node.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "object":
        return {}
    return "x" * max(1, int(node.get("minLength", 1)))


def nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every part of a JSON value below the top, with its path."""
    children: Any = ()
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    for key, child in children:
        yield (*path, key), child
        yield from nodes(child, (*path, key))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    spoiled = copy.deepcopy(value)
    target = spoiled
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return spoiled


DEEP_PLACEHOLDER = "deep-placeholder-3b9d"
DEEP_TEXT = '{"a": ' + "[" * DEEP + "]" * DEEP + "}"  # 10 KB: fits even a widget frame


def with_deep(value: Any, path: tuple[Any, ...]) -> str:
    """``value`` as JSON text with the part at ``path`` nested 5,000 levels deep (json.dumps would fail)."""
    return json.dumps(replaced(value, path, DEEP_PLACEHOLDER)).replace(f'"{DEEP_PLACEHOLDER}"', DEEP_TEXT)


def spoiled_bodies(base: Any, *, careful: bool) -> Iterator[str]:
    """JSON texts: ``base`` with each part spoiled in turn, then bodies that are hostile as a whole.

    ``careful``: an operation that starts long work gets no spoiling that could still be valid.
    """
    for path, node in nodes(base):
        if isinstance(node, str):
            yield json.dumps(replaced(base, path, node + SURROGATE + MARK))
        for wrong in HUGE_NUMBERS if careful else WRONG_TYPES:
            yield json.dumps(replaced(base, path, wrong))
        yield with_deep(base, path)
    if isinstance(base, dict):
        yield json.dumps({**base, SURROGATE + MARK: "x"})
    yield from RAW_BODIES
    if not careful:
        yield from ("[]", '"x"', "null", str(10**40))


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def hostile_requests() -> Iterator[tuple[str, str, str | None]]:
    """(method, URL path with query, JSON body or None) for every operation of the schema."""
    for method, path, operation in operations():
        if path == "/api/logout":
            continue  # would end the admin's session; its body is covered through the guard below
        parameters = [resolve(p) for p in operation.get("parameters", [])]
        filled = path
        for parameter in parameters:
            if parameter["in"] == "path":
                filled = filled.replace("{" + parameter["name"] + "}", str(example(parameter["schema"])))
        careful = bool(re.match(HEAVY, path))
        for parameter in parameters:
            for value in PARAMETER_VALUES:
                if parameter["in"] == "path":
                    target = filled.replace(f"/{example(parameter['schema'])}", f"/{value}", 1)
                    yield method, target if value else filled + "/", None
                elif parameter["in"] == "query":
                    yield method, f"{filled}?{parameter['name']}={value}", None
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is not None:
            for body in spoiled_bodies(example(content["schema"]), careful=careful):
                yield method, filled, body
        elif method in {"POST", "PUT", "PATCH", "DELETE"}:
            for body in RAW_BODIES:  # a body where none is expected: refused before the route
                yield method, filled, body


@pytest.fixture
def logs(all_logs: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    yield all_logs
    assert not server_errors(all_logs.records), "\n".join(server_errors(all_logs.records))[:4000]


def test_hostile_payloads_on_every_operation_get_no_server_error(
    server: str, admin: requests.Session, logs: pytest.LogCaptureFixture
) -> None:
    failures = []
    sent = 0
    for method, target, body in hostile_requests():
        headers = {"content-type": "application/json"} if body is not None else {}
        data = None if body is None else body.encode()
        answer = admin.request(method, f"{server}{target}", data=data, headers=headers, timeout=30)
        sent += 1
        if answer.status_code >= 500:
            shown = (body or "")[:120]
            failures.append(f"{method} {target} {shown!r}: {answer.status_code} {answer.text[:200]}")
    assert sent > 500
    assert not failures, "\n".join(failures[:30])
    assert admin.get(f"{server}/api/me", timeout=10).json()["login"] == ADMIN


def test_hostile_login_forms_get_no_server_error(server: str, logs: pytest.LogCaptureFixture) -> None:
    """The panel's login and logout forms (pages, not in the schema): broken UTF-8, long and odd fields."""
    values = [CESU_SURROGATE + MARK, "%FF%FE", "a" * 5000, "%00", ""]
    with requests.Session() as browser:
        for field in ("login", "password", "next"):
            for value in values:
                form = {"login": "nobody", "password": "wrong password", "next": "/panel"}
                body = "&".join(f"{k}={value if k == field else v}" for k, v in form.items())
                answer = browser.post(
                    f"{server}/panel/login",
                    data=body.encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"},
                    allow_redirects=False,
                    timeout=30,
                )
                assert answer.status_code < 500, (field, value[:40], answer.status_code, answer.text[:200])
        for value in values:
            answer = browser.post(
                f"{server}/panel/logout",
                data=f"csrf_token={value}".encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
                allow_redirects=False,
                timeout=30,
            )
            assert answer.status_code < 500, (value[:40], answer.status_code)


WIDGET_FRAMES: list[dict[str, Any]] = [
    {"type": "message", "text": "привет", "client_id": "c1"},
    {"type": "button", "payload": "/affirm", "title": "Да", "client_id": "c2"},
    {"type": "transcript", "email": "visitor@example.com"},
    {"type": "page", "url": "https://shop.example/bikes"},
    {"type": "status"},
]


def hostile_frames() -> Iterator[str | bytes]:
    for frame in WIDGET_FRAMES:
        for path, node in nodes(frame):
            if isinstance(node, str):
                yield json.dumps(replaced(frame, path, node + SURROGATE + MARK))
            for wrong in WRONG_TYPES:
                yield json.dumps(replaced(frame, path, wrong))
            yield with_deep(frame, path)
        yield json.dumps({**frame, SURROGATE + MARK: "x"})
    yield from RAW_BODIES
    yield from ("[]", '"x"', "null", str(10**40), "not json", "")
    yield b"\x00\xff binary"


def test_hostile_widget_frames_get_an_answer_never_a_server_error(
    server: str, logs: pytest.LogCaptureFixture
) -> None:
    url = server.replace("http://", "ws://") + f"/ws/chat?visitor=hostile-{secrets.token_hex(12)}"
    remaining = [*hostile_frames(), "x" * (200 * 1024)]  # the last is past the WebSocket message limit
    sent, answered = len(remaining), 0
    while remaining:
        with connect(url, open_timeout=10, max_size=None) as websocket:
            assert json.loads(websocket.recv(10))["type"] == "status"
            assert json.loads(websocket.recv(10))["type"] == "history"
            while remaining:
                frame = remaining.pop(0)
                try:
                    websocket.send(frame)
                    websocket.send(json.dumps({"type": "status"}))  # a good frame: refusals do not pile up
                    while json.loads(websocket.recv(10))["type"] != "status":
                        pass
                except ConnectionClosed:
                    assert websocket.close_code != 1011, (frame[:80], websocket.close_reason)
                    break
                answered += 1
    assert answered == sent - 1, (answered, sent)  # all but the one past the message limit


def test_hostile_frames_on_the_panel_feed_leave_it_open(
    server: str, admin: requests.Session, logs: pytest.LogCaptureFixture
) -> None:
    url = server.replace("http://", "ws://") + "/api/events"
    cookie = f"{SESSION_COOKIE}={admin.cookies[SESSION_COOKIE]}"
    with connect(url, open_timeout=10, additional_headers={"Cookie": cookie}) as websocket:
        for frame in hostile_frames():
            websocket.send(frame)
        assert websocket.ping().wait(10), "the feed stopped answering"
    with connect(url, open_timeout=10, additional_headers={"Cookie": cookie}) as websocket:
        websocket.send("x" * (200 * 1024))  # past the WebSocket message limit: closed as too big
        with pytest.raises(ConnectionClosed):
            websocket.recv(10)
        assert websocket.close_code == 1009, websocket.close_code


def test_the_checks_above_see_the_servers_errors(all_logs: pytest.LogCaptureFixture) -> None:
    """They read uvicorn's own log too, where "Exception in ASGI application" goes: not vacuous."""
    logging.getLogger("uvicorn.error").error("Exception in ASGI application")
    assert server_errors(all_logs.records)
