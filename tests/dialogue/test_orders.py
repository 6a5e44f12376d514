"""Order status from the shop's API (a declarative HTTP action against the shop stub).

The stub is served for real on 127.0.0.1 and the default bot's own test stories run
against it; with the shop down the same question goes to a person, never unanswered.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.project import Project

STORIES = Path(__file__).parent / "stories"


def test_stub_answers_orders_and_404(shop: str) -> None:
    found = httpx.get(f"{shop}/api/orders/1234567").json()
    assert found["status"] == "in_transit" and found["delivery"]["eta"] == "2026-12-10"
    assert httpx.get(f"{shop}/api/orders/9999999").status_code == 404
    assert httpx.get(f"{shop}/api/orders/abc").status_code == 404
    assert httpx.post(f"{shop}/_fail", json={"status": 503, "count": 1}).status_code == 200
    assert httpx.get(f"{shop}/api/orders/1234567").status_code == 503
    assert httpx.get(f"{shop}/api/orders/1234567").status_code == 200


def test_shop_down_hands_off_with_the_reason(
    trained_ru: Project, shop_down: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["test", "--project", str(trained_ru.root), str(STORIES / "test_shop_down.yml")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 passed, 0 failed" in out


def test_shop_failing_mid_conversation_is_a_ticket_with_the_reason(trained_ru: Project, shop: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    from bot.dialogue.state import DialogueState

    project = Project.open(trained_ru.root)  # reads BOTDESK_SHOP_URL now
    engine, pipeline = project.engine(seed=0), project.load_pipeline()
    state = DialogueState()
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    answer = asyncio.run(engine.handle(state, pipeline.parse("где мой заказ 5550123"), now))
    assert "собирается на складе" in "\n".join(r.text for r in answer.replies)
    assert answer.escalation is None and state.tracker.slots["order_status"] == "собирается на складе"
    httpx.post(f"{shop}/_fail", json={"status": 500, "count": 1})
    failed = asyncio.run(engine.handle(DialogueState(), pipeline.parse("где мой заказ 1234567"), now))
    assert failed.escalation is not None and failed.escalation.reason == "integration_unavailable"
    assert [r.response for r in failed.replies][-2:] == [
        "utter_integration_unavailable",
        "utter_handoff_queued",
    ]
