"""A handoff asks who is online, not only the working hours (issue 21): said honestly either way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.dialogue.effects import OpenTicket
from bot.dialogue.state import DialogueState, TurnResult
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from handoff.queue_updates import notable

DAYTIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: working hours
NIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 02:00 in Moscow


def hand_off(project: Project, pipeline: Pipeline, now: datetime, online: bool) -> TurnResult:
    engine = project.engine(seed=1)
    staffed = {"support": online}
    return asyncio.run(
        engine.handle(DialogueState(), pipeline.parse("позовите оператора"), now, staffed=staffed.__getitem__)
    )


def ticket_of(result: TurnResult) -> OpenTicket:
    (ticket,) = [e for e in result.effects if isinstance(e, OpenTicket)]
    return ticket


def test_in_working_hours_with_nobody_online_the_bot_says_so_and_offers_a_call_back(
    trained_ru: Project, ru_pipeline: Pipeline
) -> None:
    result = hand_off(trained_ru, ru_pipeline, DAYTIME, online=False)
    ticket = ticket_of(result)
    assert ticket.unstaffed and not ticket.after_hours  # queued: the first operator online sees it
    said = result.replies[-1]
    assert said.response == "utter_nobody_online"
    assert said.text.startswith("Сейчас никого из операторов нет на связи.")
    assert [b["payload"] for b in said.buttons] == ["/affirm", "/deny"]


def test_with_someone_online_the_handoff_queues_even_after_hours(
    trained_ru: Project, ru_pipeline: Pipeline
) -> None:
    day = hand_off(trained_ru, ru_pipeline, DAYTIME, online=True)
    night = hand_off(trained_ru, ru_pipeline, NIGHT, online=True)
    for result in (day, night):
        ticket = ticket_of(result)
        assert not ticket.unstaffed and not ticket.after_hours
        assert result.replies[-1].response == "utter_handoff_queued"


def test_after_hours_with_nobody_online_the_opening_is_said(
    trained_ru: Project, ru_pipeline: Pipeline
) -> None:
    result = hand_off(trained_ru, ru_pipeline, NIGHT, online=False)
    assert ticket_of(result).after_hours and result.replies[-1].response == "utter_after_hours"
    assert "в 09:00" in result.replies[-1].text


def test_a_project_without_the_new_responses_says_the_built_in_texts(
    trained_ru: Project, ru_pipeline: Pipeline
) -> None:
    engine = trained_ru.engine(seed=1)
    engine.responses = {k: v for k, v in engine.responses.items() if k != "utter_nobody_online"}  # a copy
    said = engine.say("utter_nobody_online")
    assert said.text.startswith("Сейчас никого из операторов нет на связи") and said.buttons


def test_a_waiting_customer_hears_only_notable_moves() -> None:
    assert notable(2, 1)  # next
    assert notable(6, 3) and not notable(6, 4)  # half the place, or better
    assert not notable(3, 3) and not notable(2, 3)  # not moved, or moved back
    assert not notable(None, 1)  # never told a place (nobody was online): the live line only
