"""The login throttle holds however the login is typed, from any address, across server processes.

Reproduces the outside test's attack (issue 17, item 1): the lookup stripped the login but
the throttle counted it as typed, so `` opa``, ``\\topa``, ``\\nopa`` each got five tries and
``\\nopa`` with the right password logged in while ``opa`` answered 429. And each process
counted alone, so N processes gave N times the tries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from bot.server.throttle import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_LOGIN, address_key
from bot.store import OperatorRole
from handoff.accounts import AccountError, add_account, check_login, normalize_login
from tests.helpers.postgres import postgres_schema
from tests.helpers.server import AppFactory, state_of

PASSWORD = "correct horse battery"
WHITESPACE_VARIANTS = [" opa", "\topa", "\nopa", "opa ", "OPA", "\u3000opa", "ｏｐａ", "opa\r\n", "\vOpa"]


@contextlib.asynccontextmanager
async def client_of(app: FastAPI, address: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan, and a client that calls it in-process from ``address``."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://botdesk.test") as client:
            yield client


@contextlib.asynccontextmanager
async def client_from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another caller of an app whose lifespan already runs."""
    transport = httpx.ASGITransport(app=app, client=(address, 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://botdesk.test") as client:
        yield client


async def login(client: httpx.AsyncClient, name: str, password: str) -> int:
    answer = await client.post("/api/login", json={"login": name, "password": password})
    return answer.status_code


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    """The one database several server instances share."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    with postgres_schema() as url:
        yield url


def test_one_normal_form_for_create_lookup_and_throttle() -> None:
    assert {normalize_login(v) for v in WHITESPACE_VARIANTS} == {"opa"}
    assert check_login(" Anna.K ") == "anna.k"
    for bad in ("opa\n\x00", "op a", "", "опа", "a" * 65):
        with pytest.raises(AccountError):
            check_login(bad)


def test_ipv6_clients_count_by_their_network() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == address_key("192.0.2.1")
    assert address_key(None) == address_key("unknown")


async def test_whitespace_variants_share_the_count_of_the_account_they_reach(make_app: AppFactory) -> None:
    app = make_app()
    async with client_of(app) as client:
        await add_account(state_of(app).db, "opa", PASSWORD, role=OperatorRole.OPERATOR)
        # the attack: every variant its own five tries (80 wrong passwords without a 429 on main)
        wrong = [
            await login(client, variant, f"guess-{n}-wrong") for n, variant in enumerate(WHITESPACE_VARIANTS)
        ]
        right_variant = await login(client, "\nopa", PASSWORD)
        right_plain = await login(client, "opa", PASSWORD)
    assert wrong[:MAX_FAILURES_PER_LOGIN] == [401] * MAX_FAILURES_PER_LOGIN
    assert set(wrong[MAX_FAILURES_PER_LOGIN:]) == {429}, wrong
    assert (right_variant, right_plain) == (429, 429)


async def test_a_variant_with_the_right_password_logs_in_when_nothing_is_locked(make_app: AppFactory) -> None:
    app = make_app()
    async with client_of(app) as client:
        await add_account(state_of(app).db, "opa", PASSWORD)
        assert await login(client, " OPA\t", PASSWORD) == 200
        me = (await client.get("/api/me")).json()
    assert me["login"] == "opa"


async def test_an_account_created_with_a_typed_variant_is_stored_in_normal_form(make_app: AppFactory) -> None:
    app = make_app()
    async with client_of(app) as client:
        operator = await add_account(state_of(app).db, "  Opa ", PASSWORD)
        with pytest.raises(AccountError, match="taken"):
            await add_account(state_of(app).db, "OPA", PASSWORD)
        assert await login(client, "opa", PASSWORD) == 200
    assert operator.login == "opa"


async def test_one_address_guessing_over_many_logins_is_slowed(make_app: AppFactory) -> None:
    app = make_app()
    async with client_of(app, "198.51.100.9") as attacker:
        await add_account(state_of(app).db, "anna", PASSWORD)
        spray = [await login(attacker, f"user{n}", PASSWORD) for n in range(MAX_FAILURES_PER_ADDRESS)]
        from_attacker = await login(attacker, "anna", PASSWORD)
        answer = await attacker.post("/api/login", json={"login": "anna", "password": PASSWORD})
        async with client_from(app, "192.0.2.44") as colleague:
            from_elsewhere = await login(colleague, "anna", PASSWORD)
    assert spray == [401] * MAX_FAILURES_PER_ADDRESS, "each login stays under its own limit"
    assert from_attacker == 429 and int(answer.headers["retry-after"]) > 0
    assert from_elsewhere == 200, "other addresses are not locked out"


async def test_instances_on_one_database_share_the_count(make_app: AppFactory, shared_url: str) -> None:
    """Two server instances (own engines, own memory: as two processes) on one SQLite file / PostgreSQL."""
    first, second = make_app(database_url=shared_url), make_app(database_url=shared_url)
    async with client_of(first, "203.0.113.1") as one, client_of(second, "203.0.113.2") as two:
        await add_account(state_of(first).db, "opa", PASSWORD)
        answers = []
        for n in range(MAX_FAILURES_PER_LOGIN):
            answers.append(await login(one if n % 2 else two, " opa" if n % 2 else "opa", f"wrong-{n}-x"))
        locked = [await login(one, "opa", PASSWORD), await login(two, "\nopa", PASSWORD)]
    assert answers == [401] * MAX_FAILURES_PER_LOGIN
    assert locked == [429, 429], "five failures over two processes lock the login on both"


async def test_concurrent_guesses_cannot_slip_past_the_limit(make_app: AppFactory, shared_url: str) -> None:
    first, second = make_app(database_url=shared_url), make_app(database_url=shared_url)
    async with client_of(first, "203.0.113.3") as one, client_of(second, "203.0.113.4") as two:
        await add_account(state_of(first).db, "opa", PASSWORD)
        answers = await asyncio.gather(
            *(login(one if n % 2 else two, "opa", f"wrong-{n}-x") for n in range(3 * MAX_FAILURES_PER_LOGIN))
        )
        after = await login(one, "opa", PASSWORD)
    assert sorted(answers).count(401) == MAX_FAILURES_PER_LOGIN, answers
    assert set(answers) == {401, 429} and after == 429


async def test_a_right_password_clears_the_count_of_its_login(make_app: AppFactory) -> None:
    app = make_app()
    async with client_of(app) as client:
        await add_account(state_of(app).db, "opa", PASSWORD)
        before = [await login(client, "opa", f"wrong-{n}-x") for n in range(MAX_FAILURES_PER_LOGIN - 1)]
        assert await login(client, "opa", PASSWORD) == 200
        again = [await login(client, "opa", f"wrong-{n}-y") for n in range(MAX_FAILURES_PER_LOGIN - 1)]
        still = await login(client, "opa", PASSWORD)
    assert before == again == [401] * (MAX_FAILURES_PER_LOGIN - 1)
    assert still == 200
