"""The KPI dashboard and /api/kpis over real HTTP, after real traffic through the REST channel."""

from __future__ import annotations

import csv
import io
import re

import httpx

from bot.kpis import KPI_KEYS
from bot.store import OperatorRole
from tests.helpers.server import AppFactory, serve
from tests.server.api_helpers import WEBHOOK, add_operator, ask_for_a_person, logged_in

SCRIPT = "<script>alert('x')</script>"


async def test_without_a_session_the_dashboard_redirects_and_the_api_refuses(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/panel/dashboard")
        api = await client.get("/api/kpis")
    assert page.status_code == 303 and page.headers["location"] == "/panel/login?next=/panel/dashboard"
    assert api.status_code == 401


async def test_real_traffic_shows_in_the_kpis_and_on_the_page(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        await add_operator(app, "eva", OperatorRole.EDITOR, name="Eva")
        assert (await customer.post(WEBHOOK, json={"sender": "c1", "message": SCRIPT})).status_code == 200
        await ask_for_a_person(customer, "c2")
        async with logged_in(base, "anna") as anna:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            assert (await anna.post(f"/api/tickets/{ticket_id}/claim")).status_code == 200
            answer = await anna.post(f"/api/tickets/{ticket_id}/reply", json={"text": "Здравствуйте!"})
            assert answer.status_code == 200
            report = (await anna.get("/api/kpis")).json()
            exported = await anna.get("/api/kpis", params={"format": "csv", "channel": "rest"})
        async with logged_in(base, "eva") as eva:
            page = await eva.get("/panel/dashboard")
            only_web = (await eva.get("/api/kpis", params={"channel": "web"})).json()

    assert list(report)[: len(KPI_KEYS)] == list(KPI_KEYS)
    assert report["dialogues"] == 2 and report["handoff_rate"] == 0.5
    assert report["handoff_reasons"] == {"human_request": 1}
    assert report["abandonment_after_fallback"] == 1  # the <script> was not understood, and then silence
    assert report["top_unrecognised"] == [{"text": SCRIPT.lower(), "count": 1}]
    assert report["messages_out_by_sender"]["operator"] == 1
    assert report["first_response_seconds"] is not None and report["missed"] == 0
    assert only_web["dialogues"] == 0

    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = {row[0]: row[1] for row in csv.reader(io.StringIO(exported.text))}
    assert rows["dialogues"] == "2" and rows["handoff_reasons.human_request"] == "1"

    assert page.status_code == 200  # editors see the numbers too
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    html = page.text
    assert re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html) is None
    assert SCRIPT.lower() not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    value = re.search(r'data-testid="kpi-dialogues-value">([^<]*)<', html)
    assert value is not None and value.group(1) == "2"
    assert 'data-testid="chart-by-hour"' in html and '<rect class="bar"' in html


async def test_a_bad_period_is_a_clear_error(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as anna:
            api = await anna.get("/api/kpis", params={"from": "2026-13-01"})
            backwards = await anna.get("/api/kpis", params={"from": "2026-11-02", "to": "2026-11-01"})
            page = await anna.get("/panel/dashboard", params={"from": "yesterday"})
    assert api.status_code == 422 and "не дата" in api.json()["detail"]
    assert backwards.status_code == 422 and "позже, чем заканчивается" in backwards.json()["detail"]
    assert page.status_code == 200 and 'data-testid="period-error"' in page.text
