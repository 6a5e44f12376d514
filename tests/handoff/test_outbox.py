"""The outbox worker with the real store (SQLite and PostgreSQL), the real webhook adapter and
the real CRM stub under uvicorn on 127.0.0.1.

Outages are real: the stub answers 500 when told to, or is stopped. A lost answer (the stub
stored the card, the worker's client timed out) is simulated by a transport that sends the
request for real and then drops the response.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.cli import main
from bot.store import (
    CRM_LEAD,
    Database,
    OutboxItem,
    OutboxStatus,
    create_lead,
    enqueue,
)
from bot.store.models import utcnow
from handoff.crm import mask_phone
from handoff.outbox import OutboxWorker, redact
from tests.helpers.crm import SECRET, StubServer
from tests.helpers.projects import REPO
from tests.helpers.store import new_conversation

pytestmark = pytest.mark.timeout(60)

N = 30
LATER = timedelta(hours=2)  # past any backoff of the first attempts


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
async def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StubServer]:
    monkeypatch.setenv("BOTDESK_CRM_SECRET", SECRET)
    server = StubServer(tmp_path / "crm-stub.db", SECRET)
    await server.start()
    yield server
    if server.running:
        await server.stop()


def crm_config(stub: StubServer, **options: Any) -> list[dict[str, Any]]:
    return [{"adapter": "webhook", "url": f"{stub.url}/leads", "timeout": 2, **options}]


def worker_for(
    db: Database, stub: StubServer, transport: httpx.AsyncBaseTransport | None = None, **options: Any
) -> OutboxWorker:
    crm = crm_config(stub, **options.pop("crm", {}))
    return OutboxWorker.from_config(db.sessions, crm, transport=transport, **options)


def phone(index: int) -> str:
    return f"+7916{1_000_000 + index:07d}"


async def make_leads(db: Database, count: int = N, start: int = 0) -> list[str]:
    """``count`` leads with consent, each in a conversation of its own; their outbox keys."""
    async with db.sessions() as session:
        for index in range(start, start + count):
            customer, conversation = await new_conversation(session, f"ext-{index}")
            await create_lead(
                session,
                customer_id=customer.id,
                conversation_id=conversation.id,
                channel="telegram",
                name=f"Анна {index}",
                phone=phone(index),
                consent=True,
                interest=["price_request"],
            )
            await session.commit()
    return [item.idempotency_key for item in await outbox(db)][start:]


async def outbox(db: Database) -> list[OutboxItem]:
    async with db.sessions() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def stored_keys(stub: StubServer) -> list[str]:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        leads = (await client.get("/leads")).json()["leads"]
    return [lead["idempotency_key"] for lead in leads]


async def set_failure(stub: StubServer, **failure: Any) -> None:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        if failure:
            (await client.post("/_fail", json=failure)).raise_for_status()
        else:
            (await client.delete("/_fail")).raise_for_status()


async def drain(worker: OutboxWorker, now: datetime | None = None) -> int:
    """Passes until nothing due is left; how many items were claimed in all."""
    claimed = 0
    while (stats := await worker.run_once(now)).claimed:
        claimed += stats.claimed
    return claimed


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


def assert_once(keys: Sequence[str], expected: Sequence[str]) -> None:
    duplicates = [key for key, count in collections.Counter(keys).items() if count > 1]
    assert not duplicates
    assert sorted(keys) == sorted(expected)


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP, with test seams: count pushes per key, lose answers, hold a push at a gate."""

    def __init__(self, *, lose: int = 0, delay: float = 0.0) -> None:
        super().__init__()
        self.pushes: collections.Counter[str] = collections.Counter()
        self.lose = lose
        self.delay = delay
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.pushes[request.headers["Idempotency-Key"]] += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        response = await super().handle_async_request(request)
        if self.lose > 0:  # the CRM has it now; the answer never reaches botdesk
            self.lose -= 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("simulated: the answer was lost", request=request)
        return response


# --- delivery ---------------------------------------------------------------------------


async def test_every_lead_arrives_once(db: Database, stub: StubServer) -> None:
    keys = await make_leads(db)
    async with worker_for(db, stub, poll_interval=0.05, batch_size=7) as worker:
        worker.start()
        assert worker.running

        async def all_sent() -> bool:
            return all(item.status == OutboxStatus.SENT for item in await outbox(db))

        await wait_until(all_sent)
        await worker.stop()
        assert not worker.running
    assert_once(await stored_keys(stub), keys)
    assert (worker.delivered, worker.duplicates, worker.retried, worker.dead) == (N, 0, 0, 0)
    items = await outbox(db)
    assert all(item.sent_at is not None and item.attempts == 0 for item in items)
    async with httpx.AsyncClient(base_url=stub.url) as client:
        first = (await client.get("/leads")).json()["leads"][0]["card"]
    assert first["phone"] in {phone(i) for i in range(N)} and first["consent"] is True


async def test_a_new_lead_is_delivered_when_the_worker_is_woken(db: Database, stub: StubServer) -> None:
    async with worker_for(db, stub, poll_interval=30) as worker:
        worker.start()
        await asyncio.sleep(0.05)  # the first pass found nothing; the next poll is 30 s away
        keys = await make_leads(db, 1)
        worker.wake()

        async def arrived() -> bool:
            return len(await stored_keys(stub)) == 1

        await wait_until(arrived, timeout=5)
    assert await stored_keys(stub) == keys


@pytest.mark.parametrize("outage", ["500", "down"])
async def test_a_crm_outage_loses_and_duplicates_nothing(db: Database, stub: StubServer, outage: str) -> None:
    if outage == "500":
        await set_failure(stub, status=500)
    else:
        await stub.stop()
    keys = await make_leads(db)
    now = utcnow()
    async with worker_for(db, stub, batch_size=50) as worker:
        for attempt in range(1, 4):
            now += LATER
            stats = await worker.run_once(now)
            assert (stats.claimed, stats.retried, stats.delivered) == (N, N, 0)
            for item in await outbox(db):
                assert item.status == OutboxStatus.PENDING and item.attempts == attempt
                assert item.next_attempt_at > now and item.sent_at is None
                assert ("HTTP 500" if outage == "500" else "unreachable") in (item.last_error or "")
        assert await worker.run_once(now) == type(stats)()  # nothing is due before the backoff ends

        if outage == "500":
            await set_failure(stub)
        else:
            await stub.start()  # same port, same database
        assert await stored_keys(stub) == []
        assert await drain(worker, now + LATER) == N
    assert_once(await stored_keys(stub), keys)
    assert all(item.status == OutboxStatus.SENT for item in await outbox(db))
    assert (worker.delivered, worker.duplicates, worker.retried) == (N, 0, 3 * N)


async def test_a_lost_answer_is_delivered_once_by_its_key(db: Database, stub: StubServer) -> None:
    keys = await make_leads(db)
    transport = RecordingTransport(lose=N)
    async with worker_for(db, stub, transport, batch_size=50) as worker:
        stats = await worker.run_once()
        assert (stats.retried, stats.delivered) == (N, 0)
        assert_once(await stored_keys(stub), keys)  # the stub has them all already
        assert all("did not answer" in (item.last_error or "") for item in await outbox(db))
        stats = await worker.run_once(utcnow() + LATER)
    assert (stats.delivered, stats.duplicates) == (N, N)  # 409: counted as delivered
    assert_once(await stored_keys(stub), keys)
    assert all(item.status == OutboxStatus.SENT for item in await outbox(db))
    assert set(transport.pushes.values()) == {2}


async def test_retry_after_is_honoured(db: Database, stub: StubServer) -> None:
    await make_leads(db, 1)
    await set_failure(stub, status=429, count=1, retry_after=120)
    now = utcnow()
    async with worker_for(db, stub) as worker:
        assert (await worker.run_once(now)).retried == 1
        [item] = await outbox(db)
        assert item.next_attempt_at == now + timedelta(seconds=120)
        assert (await worker.run_once(now + timedelta(seconds=119))).claimed == 0
        assert (await worker.run_once(now + timedelta(seconds=120))).delivered == 1


async def test_gives_up_after_max_attempts(db: Database, stub: StubServer) -> None:
    await make_leads(db, 2)
    await set_failure(stub, status=503)
    now = utcnow()
    async with worker_for(db, stub, max_attempts=3) as worker:
        for _ in range(3):
            now += LATER
            stats = await worker.run_once(now)
    assert (stats.retried, stats.dead, worker.retried, worker.dead) == (0, 2, 4, 2)
    assert all(item.status == OutboxStatus.DEAD and item.attempts == 3 for item in await outbox(db))


async def test_every_configured_crm_gets_each_card_once(
    db: Database, stub: StubServer, tmp_path: Path
) -> None:
    other = StubServer(tmp_path / "other-stub.db", SECRET)
    await other.start()
    try:
        keys = await make_leads(db, 3)
        await set_failure(other, status=502, count=3)
        crm = [*crm_config(stub), *crm_config(other)]
        async with OutboxWorker.from_config(db.sessions, crm) as worker:
            first = await worker.run_once()
            assert (first.retried, first.delivered) == (3, 0)
            assert all((item.last_error or "").startswith("webhook: ") for item in await outbox(db))
            second = await worker.run_once(utcnow() + LATER)
        assert (second.delivered, second.duplicates) == (3, 3)  # the first CRM answered 409
        assert_once(await stored_keys(stub), keys)
        assert_once(await stored_keys(other), keys)
    finally:
        await other.stop()


# --- several workers --------------------------------------------------------------------


async def test_two_workers_on_postgres_never_push_one_item_twice(pg_db: Database, stub: StubServer) -> None:
    other = Database.open(pg_db.url)
    keys = await make_leads(pg_db)
    transport = RecordingTransport(delay=0.01)
    options: dict[str, Any] = {"poll_interval": 0.02, "batch_size": 4, "concurrency": 2}
    try:
        async with (
            worker_for(pg_db, stub, transport, **options) as first,
            worker_for(other, stub, transport, **options) as second,
        ):
            first.start()
            second.start()

            async def all_sent() -> bool:
                return all(item.status == OutboxStatus.SENT for item in await outbox(pg_db))

            await wait_until(all_sent)
    finally:
        await other.close()
    assert first.delivered > 0 and second.delivered > 0
    assert first.delivered + second.delivered == N and first.duplicates + second.duplicates == 0
    assert set(transport.pushes.values()) == {1} and sorted(transport.pushes) == sorted(keys)
    assert_once(await stored_keys(stub), keys)


# --- permanent errors and re-queueing ---------------------------------------------------


async def test_a_refused_card_is_dead_until_retried_after_the_fix(
    db: Database,
    db_url: str,
    stub: StubServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = await make_leads(db, 3)
    monkeypatch.setenv("WRONG_SECRET", "not-the-secret")
    async with worker_for(db, stub, crm={"secret_env": "WRONG_SECRET"}) as worker:
        stats = await worker.run_once()
    assert (stats.dead, stats.retried, stats.delivered) == (3, 0, 0)
    for item in await outbox(db):
        assert item.status == OutboxStatus.DEAD and item.attempts == 1
        assert "HTTP 401" in (item.last_error or "")
    assert await stored_keys(stub) == []
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["outbox", "status", "--url", db_url]) == 0
    out = capsys.readouterr().out
    assert "pending 0 (due now 0), sent 0, dead 3" in out and "HTTP 401" in out and "retry-dead" in out

    assert await asyncio.to_thread(main, ["outbox", "retry-dead", "--url", db_url]) == 0
    assert "re-queued 3 dead items" in capsys.readouterr().out
    assert all(item.status == OutboxStatus.PENDING and item.attempts == 0 for item in await outbox(db))
    async with worker_for(db, stub) as worker:  # the right secret now
        assert (await worker.run_once()).delivered == 3
    assert_once(await stored_keys(stub), keys)


async def test_a_broken_payload_is_dead_without_its_values(db: Database, stub: StubServer) -> None:
    async with db.sessions() as session:
        await enqueue(session, CRM_LEAD, {"name": "Анна", "phone": "12", "consent": "maybe"}, "broken-key-1")
        await session.commit()
    async with worker_for(db, stub) as worker:
        assert (await worker.run_once()).dead == 1
    [item] = await outbox(db)
    assert item.status == OutboxStatus.DEAD and "not a valid lead card" in (item.last_error or "")
    assert "phone" in (item.last_error or "") and "Анна" not in (item.last_error or "")


# --- lifecycle --------------------------------------------------------------------------


async def test_stop_lets_the_push_in_flight_finish(db: Database, stub: StubServer) -> None:
    keys = await make_leads(db, 1)
    transport = RecordingTransport()
    transport.gate = asyncio.Event()
    async with worker_for(db, stub, transport, poll_interval=0.02) as worker:
        worker.start()
        await asyncio.wait_for(transport.entered.wait(), 5)
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # waits for the push
        transport.gate.set()
        await asyncio.wait_for(stopping, 5)
        assert not worker.running
    [item] = await outbox(db)
    assert item.status == OutboxStatus.SENT and worker.delivered == 1
    assert await stored_keys(stub) == keys


async def test_stop_with_a_timeout_leaves_the_item_for_later(db: Database, stub: StubServer) -> None:
    await make_leads(db, 1)
    transport = RecordingTransport()
    transport.gate = asyncio.Event()  # never opened: a CRM that hangs
    async with worker_for(db, stub, transport, poll_interval=0.02) as worker:
        worker.start()
        await asyncio.wait_for(transport.entered.wait(), 5)
        await asyncio.wait_for(worker.stop(timeout=0.1), 5)
        assert not worker.running
    [item] = await outbox(db)  # not lost: leased, due again when the lease ends
    assert item.status == OutboxStatus.PENDING and item.attempts == 0
    assert item.next_attempt_at > utcnow() + timedelta(minutes=4)


async def test_without_a_crm_leads_wait(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    await make_leads(db, 2)
    caplog.set_level(logging.INFO, "botdesk.outbox")
    async with OutboxWorker(db.sessions, [], poll_interval=0.01) as worker:
        worker.start()
        worker.start()
        assert not worker.running and not worker.enabled
        assert (await worker.run_once()).claimed == 0
    assert len([r for r in caplog.records if "no CRM" in r.getMessage()]) == 1  # once, not per start
    assert all(item.status == OutboxStatus.PENDING and item.attempts == 0 for item in await outbox(db))


async def test_logs_never_carry_a_full_phone(
    db: Database, stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    await make_leads(db, 2)
    caplog.set_level(logging.DEBUG)
    await set_failure(stub, status=500, count=2)
    async with worker_for(db, stub) as worker:
        await worker.run_once()
        await worker.run_once(utcnow() + LATER)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "delivered" in text and "retry in" in text
    assert phone(0) not in text and phone(1) not in text and mask_phone(phone(0)) in text
    assert redact(f"HTTP 422: {phone(0)} bad") == "HTTP 422: *** bad"


# --- the command line -------------------------------------------------------------------


def make_project(root: Path, crm: str = "[]") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "config.yml", root / "config.yml")
    config = (root / "config.yml").read_text(encoding="utf-8")
    (root / "config.yml").write_text(config.replace("\ncrm: []\n", f"\ncrm: {crm}\n"), encoding="utf-8")
    return root


async def test_cli_status_and_deliver_once(
    tmp_path: Path, stub: StubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BOTDESK_DATABASE_URL", raising=False)
    project = make_project(tmp_path / "bot", f'[{{adapter: webhook, url: "{stub.url}/leads"}}]')
    args = ["--project", str(project)]
    assert await asyncio.to_thread(main, ["db", "upgrade", *args]) == 0
    database = Database.open(f"sqlite:///{project / 'botdesk.db'}")
    try:
        keys = await make_leads(database, 3)
    finally:
        await database.close()
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["outbox", "status", *args]) == 0
    out = capsys.readouterr().out
    assert "pending 3 (due now 3), sent 0, dead 0" in out and "oldest pending:" in out

    assert await asyncio.to_thread(main, ["outbox", "deliver", "--once", *args]) == 0
    assert "delivered 3" in capsys.readouterr().out
    assert_once(await stored_keys(stub), keys)

    assert await asyncio.to_thread(main, ["outbox", "status", "--json", *args]) == 0
    out = capsys.readouterr().out
    assert '"sent": 3' in out and '"pending": 0' in out


async def test_cli_deliver_runs_until_ctrl_c(tmp_path: Path, stub: StubServer) -> None:
    project = make_project(tmp_path / "bot", f'[{{adapter: webhook, url: "{stub.url}/leads"}}]')
    env = {**os.environ, "BOTDESK_CRM_SECRET": SECRET, "NO_COLOR": "1"}
    env.pop("BOTDESK_DATABASE_URL", None)
    assert await asyncio.to_thread(main, ["db", "upgrade", "--project", str(project)]) == 0
    database = Database.open(f"sqlite:///{project / 'botdesk.db'}")
    try:
        keys = await make_leads(database, 2)
    finally:
        await database.close()
    command = [sys.executable, "-c", "from bot.cli import run; run()", "outbox", "deliver"]
    process = await asyncio.create_subprocess_exec(
        *command,
        "--project",
        str(project),
        "--interval",
        "0.1",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:

        async def arrived() -> bool:
            return len(await stored_keys(stub)) == 2

        await wait_until(arrived, timeout=20)
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    assert "stopping after the pushes in flight" in text and "delivered" in text
    assert phone(0) not in text and mask_phone(phone(0)) in text
    assert_once(await stored_keys(stub), keys)


def test_cli_deliver_without_a_crm_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "bot")
    assert main(["outbox", "deliver", "--once", "--project", str(project)]) == 2
    assert "no CRM" in capsys.readouterr().err
