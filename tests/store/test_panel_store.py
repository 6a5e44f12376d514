"""Migration 0002 and the panel's repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bot.store import (
    Database,
    OperatorStatus,
    create_operator,
    current_revision,
    upgrade,
    utcnow,
)
from bot.store.migrate import differences, downgrade, head_revision
from bot.store.notes import add_note, notes_of
from bot.store.operators import available_operators, set_status
from bot.store.sessions import create_session, find_session, purge_expired, revoke_sessions
from tests.helpers.store import new_conversation


async def test_0002_keeps_existing_operators_and_makes_them_away(db_url: str) -> None:
    async with Database.open(db_url) as db:
        assert await upgrade(db.engine, "0001") == "0001"
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO operators (login, display_name, role, active, created_at) "
                    "VALUES ('anna', 'Анна', 'operator', true, CURRENT_TIMESTAMP)"
                )
            )
        assert await upgrade(db.engine, "0002") == "0002"
        async with db.engine.connect() as connection:  # the table as 0002 left it (the models are newer)
            status, max_parallel = (
                await connection.execute(
                    text("SELECT status, max_parallel FROM operators WHERE login = 'anna'")
                )
            ).one()
        assert status == OperatorStatus.AWAY.value and max_parallel is None
        await upgrade(db.engine)  # the later revisions on top, then all of them back down
        assert await differences(db.engine) == []
        assert await downgrade(db.engine, "0001") == "0001"
        async with db.engine.connect() as connection:
            logins = (await connection.execute(text("SELECT login FROM operators"))).scalars().all()
        assert logins == ["anna"]
        assert await upgrade(db.engine) == head_revision() == await current_revision(db.engine)


async def test_sessions_expire_and_are_revoked(db: Database) -> None:
    now = utcnow()
    async with db.session() as session:
        anna = await create_operator(session, "anna", "Анна")
        await create_session(session, anna.id, "a" * 64, "csrf", now=now, expires_at=now + timedelta(hours=1))
        await create_session(session, anna.id, "b" * 64, "csrf", now=now, expires_at=now + timedelta(hours=2))
        await session.commit()
        found = await find_session(session, "a" * 64, now=now)
        assert found is not None and found[1].login == "anna"
        assert await find_session(session, "a" * 64, now=now + timedelta(hours=1)) is None  # expired
        assert await purge_expired(session, now=now + timedelta(hours=1)) == 1
        assert await revoke_sessions(session, anna.id) == 1
        await session.commit()
        assert await find_session(session, "b" * 64, now=now) is None


async def test_notes_keep_their_author(db: Database) -> None:
    async with db.session() as session:
        _, conversation = await new_conversation(session)
        anna = await create_operator(session, "anna", "Анна")
        await add_note(session, conversation.id, anna.id, "перезвонить вечером", now=utcnow())
        await add_note(session, conversation.id, None, "от системы", now=utcnow())
        await session.commit()
        notes = await notes_of(session, conversation.id)
    assert [(note.text, author) for note, author in notes] == [
        ("перезвонить вечером", "Анна"),
        ("от системы", None),
    ]


async def test_available_operators_are_online_and_logged_in(db: Database) -> None:
    now = utcnow()
    async with db.session() as session:
        anna = await create_operator(session, "anna", "Анна")
        boris = await create_operator(session, "boris", "Борис")
        for operator in (anna, boris):
            await set_status(session, operator.id, OperatorStatus.ONLINE)
        await create_session(session, anna.id, "a" * 64, "c", now=now, expires_at=now + timedelta(hours=1))
        await session.commit()
        available = await available_operators(session, now=now)
    assert [(operator.login, held) for operator, held in available] == [("anna", 0)]  # boris has no session
