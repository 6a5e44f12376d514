"""schemathesis against the OpenAPI schema: the JSON API, the REST webhook and the widget config never 5xx.

botdesk runs under real uvicorn on 127.0.0.1 (a thread, one server for the module);
every generated request is sent logged in as an admin with the session's CSRF token,
so the checks reach past authentication into each route's own validation. Examples
are bounded per operation (``BOTDESK_SCHEMA_EXAMPLES``, default 15; a fifth of that for
the operations that start a retrain, a publish or a KPI computation); ``/api/logout`` is
left out (it would end the session the other operations run under; the auth tests cover
it). About two minutes on the dev machine: marked ``slow``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.server.app import create_app
from bot.store import Database, OperatorRole
from handoff.accounts import add_account
from tests.conftest import REPO
from tests.live import serving
from tests.server.conftest import Clock

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
