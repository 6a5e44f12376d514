"""/healthz for orchestrators, /metrics for Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.project import Project
from tests.helpers.server import AppFactory, asgi_client, eventually, project_with, serve, state_of

WEBHOOK = "/webhooks/rest/webhook"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text as {(sample name, labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_healthz_is_ok_with_the_model_and_the_database(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "model_version": state_of(app).model_version,
        "database": "ok",
        "outbox_worker": "off",
    }
    assert health.json()["model_version"]


async def test_healthz_is_503_while_the_database_is_unreachable(make_app: AppFactory) -> None:
    app = make_app(database_url="postgresql://botdesk@127.0.0.1:1/botdesk")
    async with asgi_client(app) as client:
        health = await client.get("/healthz")
        webhook = await client.post(WEBHOOK, json={"sender": "u1", "message": "привет"})
        metrics = await client.get("/metrics")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert "127.0.0.1:1" in health.json()["database"] and health.json()["model_version"]
    assert webhook.status_code == 503 and "nothing was stored" in webhook.json()["detail"]
    assert webhook.headers["retry-after"] == "5"
    assert metrics.status_code == 200  # the counters still scrape


async def test_metrics_count_what_happened(make_app: AppFactory) -> None:
    app = make_app()
    async with asgi_client(app) as client:
        await client.post(WEBHOOK, json={"sender": "a", "message": "можно вернуть товар?"})
        await client.post(
            WEBHOOK, json={"sender": "b", "message": "это безобразие, привезли сломанный велосипед"}
        )
        await client.post(WEBHOOK, json={"sender": "b", "message": "алло"})
        await client.post(WEBHOOK, json={"sender": "c", "message": "фывапролд ячсмить"})
        await client.post(WEBHOOK, json={"sender": "", "message": "x"})
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    rest = (("channel", "rest"),)
    assert got[("botdesk_messages_total", (*rest, ("outcome", "answered")))] == 2
    assert got[("botdesk_messages_total", (*rest, ("outcome", "handoff")))] == 1
    assert got[("botdesk_messages_total", (*rest, ("outcome", "silent")))] == 1
    assert got[("botdesk_messages_total", (*rest, ("outcome", "rejected")))] == 1
    assert got[("botdesk_reply_seconds_count", rest)] == 4
    assert got[("botdesk_nlu_fallbacks_total", rest)] == 1
    assert got[("botdesk_escalations_total", (("reason", "complaint"),))] == 1
    assert got[("botdesk_queue_length", ())] == 1
    assert got[("botdesk_outbox_delivered_total", ())] == 0
    version = state_of(app).model_version
    assert got[("botdesk_model_info", (("version", str(version)),))] == 1


async def test_outbox_counters_come_from_the_crm_worker(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTDESK_CRM_SECRET", "s3cret-for-the-server-tests-0123456789")
    cards: list[dict[str, object]] = []

    def crm(request: httpx.Request) -> httpx.Response:
        cards.append(json.loads(request.content))
        return httpx.Response(201, json={"id": "crm-1"})

    project = project_with(
        trained_ru,
        tmp_path / "bot",
        {"crm: []\n": "crm:\n  - adapter: webhook\n    url: http://crm.test/leads\n"},
    )
    app = make_app(project, transport=httpx.MockTransport(crm))
    async with asgi_client(app) as client:
        for text in ("перезвоните мне пожалуйста", "Иван", "+7 912 345 67 89", "согласен"):
            answer = await client.post(WEBHOOK, json={"sender": "lead-1", "message": text})
            assert answer.status_code == 200
        await eventually(lambda: state_of(app).outbox.delivered == 1)
        health = (await client.get("/healthz")).json()
        got = samples((await client.get("/metrics")).text)
    assert cards[0]["phone"] == "+79123456789" and cards[0]["channel"] == "rest"
    assert health["outbox_worker"] == "running"
    assert got[("botdesk_outbox_delivered_total", ())] == 1
    assert got[("botdesk_outbox_dead_total", ())] == 0 and got[("botdesk_outbox_pending", ())] == 0
