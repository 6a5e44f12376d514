"""A PostgreSQL turn's round trips: BEGIN and COMMIT ride with a neighbour, statements are prepared once.

``JoinedPsycopgDriver`` and ``turns.sender_with_message``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import column, func, select, table, update
from sqlalchemy.exc import DBAPIError

from bot.messages import InboundMessage
from bot.store import Conversation, ConversationState, Customer, Database, Entered, Message, TurnTransaction
from bot.store.prepared import JoinedPsycopgDriver, Prepared, run

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every round trip a turn's driver makes from here on, its statements joined by "; "."""
    sent: list[str] = []
    original = JoinedPsycopgDriver._round_trip

    async def round_trip(self: Any, pgconn: Any, statements: list[Any], encoding: str) -> Any:
        sent.append("; ".join(part for statement in statements for part in statement.parts))
        return await original(self, pgconn, statements, encoding)

    monkeypatch.setattr(JoinedPsycopgDriver, "_round_trip", round_trip)
    yield sent


async def _enter(turn: TurnTransaction, sender: str, text: str, nlu: dict[str, Any] | None = None) -> Entered:
    """A REST customer's message into ``turn`` (its NLU result with it, model "v1")."""
    version = "v1" if nlu is not None else None
    return await turn.enter(
        InboundMessage("rest", sender, text), nlu=nlu, model_version=version, language="ru", now=NOW
    )


async def _turn(db: Database, sender: str, text: str) -> int:
    """A customer's turn answered with one reply; its conversation."""
    conversation_id, _ = await _turn_said(db, sender, text, ["Курьером — 1–2 дня."])
    return conversation_id


async def _save_state(turn: TurnTransaction, conversation_id: int, dialogue: dict[str, Any]) -> None:
    await turn.save_dialogue(
        conversation_id, dialogue=dialogue, slots={}, active_loop=None, misunderstood=0, now=NOW
    )


async def _stored(db: Database, conversation_id: int) -> tuple[Conversation, list[str]]:
    """The conversation and its messages' texts, as the store kept them."""
    async with db.reader() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        in_order = select(Message.text).where(Message.conversation_id == conversation_id).order_by(Message.id)
        return conversation, list((await session.scalars(in_order)).all())


async def _turn_said(db: Database, sender: str, text: str, replies: list[str]) -> tuple[int, list[int]]:
    """A turn that says ``replies``; its conversation and the replies' ids, asked after the commit."""
    async with db.turns.transaction() as turn:
        entered = await _enter(turn, sender, text)
        said = await turn.say(entered.conversation_id, replies, NOW)
        await _save_state(turn, entered.conversation_id, {"turns": 1})
        await turn.commit()
    return entered.conversation_id, await said.ids()


async def test_a_returning_customers_turn_is_two_round_trips(pg_db: Database, queries: list[str]) -> None:
    await _turn(pg_db, "anna", "привет")  # the first contact creates the customer
    queries.clear()
    conversation_id = await _turn(pg_db, "anna", "сколько стоит доставка")
    assert len(queries) == 2, queries
    # The sender's row, its lock and the message in one statement, sent with BEGIN.
    assert queries[0].startswith("BEGIN; EXECUTE botdesk_")
    # The replies and the dialogue state go out with the COMMIT.
    assert queries[1].count("EXECUTE botdesk_") == 2 and queries[1].endswith("; COMMIT")
    assert not any("PREPARE" in query for query in queries)  # prepared by the first turn on this connection
    conversation, texts = await _stored(pg_db, conversation_id)
    assert conversation.dialogue == {"turns": 1}
    assert texts[-2:] == ["сколько стоит доставка", "Курьером — 1–2 дня."]


async def test_the_replies_ids_sent_with_the_commit_are_theirs_in_order(
    pg_db: Database, queries: list[str]
) -> None:
    await _turn(pg_db, "mila", "привет")
    replies = ["первый", "второй", "третий", "четвёртый", "пятый", "шестой"]  # two INSERTs of up to four
    queries.clear()
    _, ids = await _turn_said(pg_db, "mila", "расскажите всё", replies)
    assert len(queries) == 2, queries
    async with pg_db.reader() as session:
        stored = (await session.execute(select(Message.id, Message.text).where(Message.id.in_(ids)))).all()
    assert sorted(stored) == list(zip(ids, replies, strict=True))
    assert ids == sorted(ids)


async def test_ids_asked_before_the_commit_send_the_replies_at_once(
    pg_db: Database, queries: list[str]
) -> None:
    await _turn(pg_db, "yana", "привет")
    queries.clear()
    async with pg_db.turns.transaction() as turn:
        entered = await _enter(turn, "yana", "меня зовут Яна")
        said = await turn.say(entered.conversation_id, ["Яна, спасибо!"], NOW)
        assert len(queries) == 1  # the INSERT waits
        ids = await said.ids()  # a form's echo: its id goes into the dialogue state
        assert len(queries) == 2 and queries[1].startswith("EXECUTE botdesk_")
        await _save_state(turn, entered.conversation_id, {"_form_answers": ids})
        await turn.commit()
    assert await said.ids() == ids  # not sent twice
    assert len(queries) == 3
    conversation, texts = await _stored(pg_db, entered.conversation_id)
    assert conversation.dialogue == {"_form_answers": ids}
    assert texts[-1] == "Яна, спасибо!"


async def test_a_rolled_back_turns_replies_have_no_ids(pg_db: Database) -> None:
    await _turn(pg_db, "zoya", "привет")
    async with pg_db.turns.transaction() as turn:
        entered = await _enter(turn, "zoya", "ещё")
        said = await turn.say(entered.conversation_id, ["не будет сказано"], NOW)
    with pytest.raises(RuntimeError, match="not run"):
        await said.ids()
    async with pg_db.reader() as session:
        texts = (await session.scalars(select(Message.text))).all()
    assert "не будет сказано" not in texts


async def test_a_first_contact_is_two_round_trips(pg_db: Database, queries: list[str]) -> None:
    await _turn(pg_db, "ivan", "привет")  # the statements prepared on this connection
    queries.clear()
    conversation_id = await _turn(pg_db, "olga", "здравствуйте")
    # BEGIN + the look-up, which finds nobody and makes the customer, identity, conversation and
    # message in the same statement, then the replies and the dialogue state with COMMIT.
    assert len(queries) == 2, queries
    assert queries[0].startswith("BEGIN; EXECUTE botdesk_") and queries[0].count("EXECUTE") == 1
    conversation, texts = await _stored(pg_db, conversation_id)
    async with pg_db.reader() as session:
        customers = (await session.scalars(select(Customer.id))).all()
    assert conversation.state == ConversationState.BOT and conversation.language == "ru"
    assert len(customers) == 2
    assert texts == ["здравствуйте", "Курьером — 1–2 дня."]


async def test_a_statement_is_prepared_on_the_server_once_per_connection(
    pg_db: Database, queries: list[str]
) -> None:
    await _turn(pg_db, "vera", "привет")
    prepared = {name for query in queries for name in re.findall(r"PREPARE (botdesk_\d+)", query)}
    queries.clear()
    await _turn(pg_db, "gleb", "привет")  # a first contact again: the same statements
    assert not any("PREPARE" in query for query in queries), queries
    executed = {name for query in queries for name in re.findall(r"EXECUTE (botdesk_\d+)", query)}
    assert len(executed) >= 3 and executed <= prepared  # each prepared by the first turn, once
    async with pg_db.turns.transaction() as turn:  # what the server holds for this connection
        names = await run(turn, select(column("name")).select_from(table("pg_prepared_statements")))
    assert {name for (name,) in names} >= prepared


async def test_a_redelivered_message_is_stored_once_in_the_same_round_trip(
    pg_db: Database, queries: list[str]
) -> None:
    async with pg_db.turns.transaction() as turn:  # the customer and their open conversation
        first = InboundMessage("rest", "dina", "привет", "m1")
        await turn.enter(first, nlu=None, model_version=None, language="ru", now=NOW)
        await turn.commit()
    queries.clear()
    async with pg_db.turns.transaction() as turn:
        again = InboundMessage("rest", "dina", "привет", "m1")
        nlu = {"intent": {"name": "greet"}}
        entered = await turn.enter(again, nlu=nlu, model_version="v1", language="ru", now=NOW)
        await turn.commit()
    assert entered.duplicate
    assert len(queries) == 2  # the look-up with its INSERT ignored, then COMMIT
    async with pg_db.reader() as session:
        stored = (await session.execute(select(Message.text, Message.nlu))).all()
    assert stored == [("привет", None)]  # the first delivery's row, untouched


async def test_a_failing_statement_that_waited_for_the_commit_fails_the_whole_turn(pg_db: Database) -> None:
    conversations = Conversation.__table__
    with pytest.raises(DBAPIError):
        async with pg_db.turns.transaction() as turn:
            entered = await _enter(turn, "boris", "привет")
            breaking = update(conversations).where(conversations.c.id == entered.conversation_id)
            assert await run(turn, breaking.values(state=None, updated_at=NOW)) == []  # waits: not sent yet
            await turn.commit()  # sent with the COMMIT: the NOT NULL refuses it
    async with pg_db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
    await _turn(pg_db, "boris", "привет")  # the connection went back usable


async def test_after_a_failed_query_the_prepared_statements_are_made_again(
    pg_db: Database, queries: list[str]
) -> None:
    await _turn(pg_db, "lena", "привет")
    conversations = Conversation.__table__
    with pytest.raises(DBAPIError):
        async with pg_db.turns.transaction() as turn:
            entered = await _enter(turn, "lena", "ещё")
            breaking = update(conversations).where(conversations.c.id == entered.conversation_id)
            await run(turn, breaking.values(state=None, updated_at=NOW))
            await turn.commit()
    queries.clear()
    await _turn(pg_db, "lena", "снова")  # which PREPAREs ran is unknown: all are dropped and made again
    assert queries[0] == "DEALLOCATE ALL"
    assert queries[1].startswith("BEGIN; PREPARE botdesk_")
    async with pg_db.reader() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert texts == ["привет", "Курьером — 1–2 дня.", "снова", "Курьером — 1–2 дня."]


async def test_a_turn_that_waits_on_the_network_takes_three_round_trips(
    pg_db: Database, queries: list[str]
) -> None:
    await _turn(pg_db, "kira", "привет")
    queries.clear()
    nlu = {"intent": {"name": "order_status", "confidence": 0.97}}
    async with pg_db.turns.transaction() as turn:
        entered = await _enter(turn, "kira", "где мой заказ 1234567", nlu)
        await turn.release()  # before the shop's API is called: committed, the connection given back
        assert len(queries) == 2 and queries[1].endswith("; COMMIT")
        async with pg_db.reader() as session:  # meanwhile: stranded (no NLU result), nothing locked
            meanwhile = await session.scalar(
                select(Message.nlu).where(Message.text == "где мой заказ 1234567")
            )
            await session.execute(select(Customer.id).with_for_update(nowait=True))
        assert meanwhile is None
        before_answer = len(queries)
        await turn.say(entered.conversation_id, ["Заказ 1234567 в пути."], NOW)
        await _save_state(turn, entered.conversation_id, {"turns": 2})
        await turn.commit()
    # The customer's lock taken again, the NLU result put back, the replies and the state: one query.
    answer = queries[before_answer:]
    assert len(answer) == 1 and answer[0].startswith("BEGIN; "), answer
    # The lock first (prepared here: the connection's first use of it), then four statements.
    assert answer[0].index("FOR UPDATE") < answer[0].index("EXECUTE botdesk_")
    assert answer[0].count("EXECUTE botdesk_") == 4 and answer[0].endswith("; COMMIT")
    _, texts = await _stored(pg_db, entered.conversation_id)
    assert texts[-2:] == ["где мой заказ 1234567", "Заказ 1234567 в пути."]
    async with pg_db.reader() as session:
        kept = await session.scalar(select(Message.nlu).where(Message.text == "где мой заказ 1234567"))
    assert kept == nlu


async def test_values_travel_as_parameters_never_as_sql(pg_db: Database) -> None:
    awkward = "'); DROP TABLE messages; -- \\x00 $1 %s %(text)s \\' \" 😊"
    conversation_id, _ = await _turn_said(pg_db, awkward, awkward, [awkward])
    _, texts = await _stored(pg_db, conversation_id)
    assert texts == [awkward, awkward]
    async with pg_db.reader() as session:
        senders = (await session.scalars(select(Customer.id))).all()
    assert len(senders) == 1


async def test_a_statement_larger_than_the_socket_takes_is_sent_whole(pg_db: Database) -> None:
    # 1,500 replies of 4,000 characters, ~12 MB in one round trip: libpq sends it in parts as the
    # socket drains, and the server answers while the rest is still going out.
    replies = [f"{n:04d} " + "ш" * 3995 for n in range(1500)]
    conversation_id, ids = await _turn_said(pg_db, "nina", "привет", replies)
    _, texts = await _stored(pg_db, conversation_id)
    assert texts == ["привет", *replies] and len(ids) == 1500


async def test_a_turn_cancelled_while_its_query_is_out_leaves_no_broken_connection(pg_db: Database) -> None:
    await _turn(pg_db, "rita", "привет")
    async with pg_db.turns.transaction() as turn:  # the pool's connection: which server process?
        busy_pid = await run(turn, select(func.pg_backend_pid()))
        await turn.commit()

    async def slow_turn() -> None:
        async with pg_db.turns.transaction() as turn:
            await run(turn, select(func.pg_sleep(5)))  # out on the server when the turn is cancelled

    task = asyncio.create_task(slow_turn())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The connection was closed, not given back mid-query: the next turns run on a fresh one.
    for n in range(3):
        await _turn(pg_db, "rita", f"снова {n}")
    async with pg_db.turns.transaction() as turn:
        pid = await run(turn, select(func.pg_backend_pid()))
        await turn.commit()
    assert pid != busy_pid
    conversation_id = await _turn(pg_db, "rita", "и ещё")
    _, texts = await _stored(pg_db, conversation_id)
    said = ["привет", "снова 0", "снова 1", "снова 2", "и ещё"]
    assert texts == [text for message in said for text in (message, "Курьером — 1–2 дня.")]


async def test_a_large_answer_does_not_stall_a_large_round_trip(pg_db: Database) -> None:
    # The server answers the first statement (10 MB) while the rest of the round trip (12 MB of
    # replies) is still going out: unless botdesk reads while it waits to write, both sides
    # wait on each other.
    big = Prepared(select(func.repeat("x", 10_000_000)), reused=False)
    replies = [f"{n:04d} " + "ш" * 3995 for n in range(1500)]

    async def turn_with_both() -> tuple[list[Any], list[int]]:
        async with pg_db.turns.transaction() as turn:
            entered = await _enter(turn, "ada", "привет")
            answer = await turn.rows_later(big, {})
            said = await turn.say(entered.conversation_id, replies, NOW)
            await turn.commit()
        return await answer.rows(), await said.ids()

    rows, ids = await asyncio.wait_for(turn_with_both(), timeout=30)
    assert rows == [("x" * 10_000_000,)] and len(ids) == 1500
