"""Every KPI of a known history against hand-computed values, on SQLite and PostgreSQL.

The history (tests/kpis/history.py), Moscow time, period 10-11 November 2026:
D1 web, bot answered, "helpful", then "5" (the score); D2 telegram, not understood, left; D3 web, 23:50 to
00:10, a person answers in 180 s, operator rated "no", 2; D4 telegram, after hours
(opening 09:00) but answered at 22:40, call-back; D5 web, reopened: not understood
twice, a person answers in 600 s (late), back to the bot, "no", queued again and
closed unanswered, lead. D6 starts a minute before the period, D7 the day after; D8 is
D3's customer answering the survey asked at closing (a new conversation, left out).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.kpis import Filters, PeriodError, build_report, load_snapshot, parse_period
from bot.kpis.render import to_csv, to_markdown
from bot.store import Database
from tests.kpis.history import MSK, build

NOW = datetime(2026, 11, 20, tzinfo=UTC)
SLA = 300.0


async def report(
    db: Database, filters: Filters | None = None, first: int = 10, last: int = 11
) -> dict[str, Any]:
    period = parse_period(date(2026, 11, first), date(2026, 11, last), MSK)
    async with db.reader() as session:
        snap = await load_snapshot(session, period, filters, NOW)
    return build_report(snap, SLA)


@pytest.fixture
async def history(db: Database) -> Database:
    async with db.session() as session:
        await build(session)
    return db


async def test_headline_kpis_match_the_hand_computed_values(history: Database) -> None:
    r = await report(history)
    assert r["dialogues"] == 5  # D6 started before the period, D7 after it, D8 only answers a survey
    assert r["period"]["survey_followups_left_out"] == 1
    assert r["messages_in"] == 11
    assert r["messages_out"] == 15
    assert r["messages_out_by_sender"] == {"bot": 10, "operator": 4, "system": 1}
    assert r["depth"] == 2.2
    assert r["first_response_seconds"] == 260.0  # (180 + 0 + 600) / 3; D4's clock starts at 09:00
    assert r["resolution_seconds"] == 1142.5  # (70 + 1200 + 900 + 2400) / 4; D2 was abandoned
    assert r["missed"] == 2  # D5's first handoff (600 s > 300 s) and its second, never taken
    assert r["handoffs"] == 4
    assert r["handoff_rate"] == 0.6
    assert r["containment_rate"] == 0.2  # only D1 (its last message, "5", is a score): D2 left
    assert r["handoff_reasons"] == {"human_request": 1, "complaint": 1, "misunderstood": 1, "did_not_help": 1}
    assert r["abandonment_after_fallback"] == 1
    assert (r["leads"], r["callbacks"]) == (1, 1)


async def test_csat_is_kept_apart_for_the_bot_and_the_operators(history: Database) -> None:
    csat = (await report(history))["csat"]
    assert csat["bot"] == {"asked": 2, "answered": 2, "helpful": 1, "rate": 0.5, "score": 5.0, "scores": 1}
    assert csat["operator"] == {
        "asked": 1,
        "answered": 1,
        "helpful": 0,
        "rate": 0.0,
        "score": 2.0,
        "scores": 1,
    }


async def test_load_by_hour_is_in_the_configured_timezone(history: Database) -> None:
    hours = (await report(history))["by_hour"]
    assert len(hours) == 24
    expected = [0] * 24
    for hour, n in {0: 1, 9: 4, 10: 3, 12: 1, 22: 1, 23: 1}.items():
        expected[hour] = n
    assert hours == expected


async def test_a_dialogue_spanning_midnight_counts_on_the_day_it_began(history: Database) -> None:
    first_day = await report(history, last=10)
    second_day = await report(history, first=11)
    assert first_day["dialogues"] == 4 and second_day["dialogues"] == 1
    assert first_day["messages_in"] == 7  # D3's message after midnight stays with D3
    assert [d["dialogues"] for d in (await report(history))["by_day"]] == [4, 1]


async def test_handoff_analytics_per_intent(history: Database) -> None:
    rows = {row["intent"]: row for row in (await report(history))["intents"]}
    assert rows["order_status"] == {
        "intent": "order_status",
        "messages": 1,
        "handoffs": 2,
        "after_not_understood": 1,
        "after_fallback": 1,
        "after_clarification": 0,
        "time_to_human_seconds": 540.0,
        "queue_abandoned": 1,
    }
    assert rows["return_policy"]["time_to_human_seconds"] == 0.0  # taken before the 09:00 opening
    assert rows["human_request"]["handoffs"] == 1 and rows["delivery_cost"]["handoffs"] == 0


async def test_top_intents_and_unrecognised_messages(history: Database) -> None:
    r = await report(history)
    assert r["top_intents"][0] == {"intent": "thanks", "count": 2}
    assert {row["text"] for row in r["top_unrecognised"]} == {"абракадабра", "не понимаю", "???"}


async def test_filters_and_breakdowns(history: Database) -> None:
    telegram = await report(history, Filters(channel="telegram"))
    assert telegram["dialogues"] == 2 and telegram["abandonment_after_fallback"] == 1
    anna = await report(history, Filters(operator="anna"))
    assert anna["dialogues"] == 2  # D3 and D5
    assert (await report(history, Filters(department="support")))["dialogues"] == 3
    assert (await report(history, Filters(department="sales")))["dialogues"] == 0
    breakdown = (await report(history))["breakdown"]
    assert breakdown["channel"]["web"]["dialogues"] == 3
    assert breakdown["bot_vs_human"]["bot"]["dialogues"] == 2
    assert breakdown["bot_vs_human"]["human"]["containment_rate"] == 0.0
    operators = {row["operator"]: row for row in breakdown["operator"]}
    assert operators["Анна"]["first_response_seconds"] == 390.0  # (180 + 600) / 2
    assert operators["Анна"]["csat"]["operator"]["score"] == 2.0
    assert operators["Борис"]["first_response_seconds"] == 0.0


async def test_an_empty_period_has_no_averages_rather_than_zeros(history: Database) -> None:
    r = await report(history, first=1, last=2)
    assert r["dialogues"] == 0
    assert r["first_response_seconds"] is None and r["containment_rate"] is None and r["depth"] is None


async def test_csv_and_markdown_carry_the_numbers(history: Database) -> None:
    r = await report(history)
    rows = dict(line.split(",")[:2] for line in to_csv(r).splitlines()[1:])
    assert rows["dialogues"] == "5" and rows["csat.bot.rate"] == "0.5" and rows["by_hour.09"] == "4"
    markdown = to_markdown(r)
    assert "| Containment | 20.0% |" in markdown and "| абракадабра | 1 |" in markdown


def test_periods_are_whole_local_days_and_bad_dates_are_one_sentence() -> None:
    period = parse_period("2026-11-10", "2026-11-11", MSK)
    assert period.start == datetime(2026, 11, 9, 21, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 11, 21, tzinfo=UTC)
    with pytest.raises(PeriodError, match="not a date"):
        parse_period("10.11.2026", None, MSK)
    with pytest.raises(PeriodError, match="after it ends"):
        parse_period("2026-11-12", "2026-11-11", MSK)
    default = parse_period(None, None, MSK, now=NOW)
    assert (default.first, default.last) == (date(2026, 10, 22), date(2026, 11, 20))
