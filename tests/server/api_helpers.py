"""Helpers for the panel API tests: accounts, logged-in clients, a customer who asks for a person."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bot.store import OperatorRole
from handoff.accounts import add_account
from tests.helpers.server import state_of

WEBHOOK = "/webhooks/rest/webhook"
PASSWORD = "correct horse battery"
HUMAN_PLEASE = "позовите оператора"


async def add_operator(
    app: Any,
    login: str,
    role: OperatorRole = OperatorRole.OPERATOR,
    *,
    name: str | None = None,
    max_parallel: int | None = None,
) -> int:
    operator = await add_account(
        state_of(app).db, login, PASSWORD, role=role, display_name=name, max_parallel=max_parallel
    )
    return int(operator.id)


@contextlib.asynccontextmanager
async def logged_in(base: str, login: str, password: str = PASSWORD) -> AsyncIterator[httpx.AsyncClient]:
    """A client with the session cookie and the CSRF header, as the panel's JavaScript has them."""
    async with httpx.AsyncClient(base_url=base) as client:
        answer = await client.post("/api/login", json={"login": login, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


async def ask_for_a_person(client: httpx.AsyncClient, sender: str, text: str = HUMAN_PLEASE) -> list[Any]:
    answer = await client.post(WEBHOOK, json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    replies: list[Any] = answer.json()
    assert "очеред" in replies[-1]["text"], replies  # "Вы 1-й в очереди ..."
    return replies


async def polled(client: httpx.AsyncClient, sender: str, after: int = 0) -> list[dict[str, Any]]:
    answer = await client.get("/webhooks/rest/messages", params={"sender": sender, "after": after})
    assert answer.status_code == 200
    result: list[dict[str, Any]] = answer.json()
    return result
