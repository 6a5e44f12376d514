"""What one HTTP call and one PostgreSQL turn cost the client: the numbers behind two choices.

    python benchmarks/client_costs.py [--requests 500] [--turns 1000]

1. An action's HTTP call (``bot.actions.base.ActionHttp``): keep-alive GETs to the demo
   shop (`botdesk shop-stub`, started here on 127.0.0.1) through httpx and through aiohttp.
2. Driver choices on a synthetic turn of six PostgreSQL statements (the sender with its
   lock, the message, two replies, the dialogue state, the commit) on one connection, in
   scratch tables of the test database: psycopg one round trip per statement (``TurnStore``
   until stop 25), psycopg's pipeline mode, BEGIN and COMMIT sent with their neighbours as
   client-bound multi-statement queries (stop 25), and asyncpg when it is installed (it is
   not a dependency). Today's ``TurnStore`` (fewer statements, prepared on the server) is
   part 3.

3. Customer turns through ``bot.store.TurnStore`` itself on PostgreSQL (a fresh schema, 16
   turns in flight, each customer writing four messages so a quarter are first contacts):
   this process's CPU and the PostgreSQL server processes' CPU per turn, read from /proc
   (the database must run on this machine). ``--store-turns-only`` runs just this part;
   run it with ``PYTHONPATH`` set to another checkout to measure that checkout's store.

Wall and CPU time per request or turn, of this process only (the server's is not counted,
but in part 3), under uvloop as `botdesk run` uses it. Prints a Markdown table;
docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import uvloop

POSTGRES = "host=127.0.0.1 user=postgres dbname=test"
BOTDESK = Path(sys.executable).with_name("botdesk")
Measure = Callable[[int], Awaitable[None]]


async def timed(name: str, count: int, one: Measure, rows: list[str]) -> None:
    await one(0)  # connections made, statements prepared
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        await one(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows.append(f"| {name} | {wall / count * 1e3:.2f} | {cpu / count * 1e3:.2f} | |")


@contextlib.contextmanager
def shop_stub(port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [str(BOTDESK), "shop-stub", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def http_calls(base: str, count: int, rows: list[str]) -> None:
    url = base + "/api/orders/1234567"
    async with httpx.AsyncClient() as client:

        async def with_httpx(_: int) -> None:
            async with client.stream("GET", url) as answer:
                await answer.aread()

        await timed("httpx, keep-alive GET", count, with_httpx, rows)
    async with aiohttp.ClientSession() as session:

        async def with_aiohttp(_: int) -> None:
            async with session.get(url) as answer:
                await answer.read()

        await timed("aiohttp, keep-alive GET", count, with_aiohttp, rows)


SETUP = """
DROP TABLE IF EXISTS bench_turn_conversations, bench_turn_messages;
CREATE TABLE bench_turn_conversations (id serial PRIMARY KEY, dialogue json, turns int);
CREATE TABLE bench_turn_messages (id bigserial PRIMARY KEY, conversation int, text text);
INSERT INTO bench_turn_conversations (dialogue, turns) SELECT '{}', 0 FROM generate_series(1, 100);
"""
SENDER = "SELECT id, dialogue FROM bench_turn_conversations WHERE id = %s FOR UPDATE"
MESSAGE = "INSERT INTO bench_turn_messages (conversation, text) VALUES (%s, %s) RETURNING id"
REPLIES = "INSERT INTO bench_turn_messages (conversation, text) VALUES (%s, %s), (%s, %s) RETURNING id"
STATE = "UPDATE bench_turn_conversations SET dialogue = %s, turns = turns + 1 WHERE id = %s"


async def postgres_turns(count: int, rows: list[str]) -> None:
    import psycopg
    from psycopg.types.json import Json

    async with await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) as setup:
        await setup.execute(SETUP)
    try:
        async with await psycopg.AsyncConnection.connect(POSTGRES) as connection:

            async def one_by_one(i: int) -> None:
                conversation = i % 100 + 1
                await (await connection.execute(SENDER, (conversation,))).fetchall()
                await (await connection.execute(MESSAGE, (conversation, "где мой заказ"))).fetchall()
                replies = (conversation, "один", conversation, "два")
                await (await connection.execute(REPLIES, replies)).fetchall()
                await connection.execute(STATE, (Json({"turn": i}), conversation))
                await connection.commit()

            await timed("psycopg, a round trip per statement (BEGIN, 4 + 1, COMMIT)", count, one_by_one, rows)

            async def pipelined(i: int) -> None:
                conversation = i % 100 + 1
                async with connection.pipeline():
                    await (await connection.execute(SENDER, (conversation,))).fetchall()
                    await (await connection.execute(MESSAGE, (conversation, "где мой заказ"))).fetchall()
                    replies = await connection.execute(REPLIES, (conversation, "один", conversation, "два"))
                    await connection.execute(STATE, (Json({"turn": i}), conversation))
                    await connection.commit()
                    await replies.fetchall()

            await timed("psycopg pipeline mode", count, pipelined, rows)
        async with await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) as connection:

            async def joined(i: int) -> None:
                conversation = i % 100 + 1
                first = psycopg.AsyncClientCursor(connection)
                await first.execute("BEGIN; " + SENDER, (conversation,))
                first.nextset()
                await first.fetchall()
                await (await connection.execute(MESSAGE, (conversation, "где мой заказ"))).fetchall()
                replies = (conversation, "один", conversation, "два")
                await (await connection.execute(REPLIES, replies)).fetchall()
                last = psycopg.AsyncClientCursor(connection)
                await last.execute(STATE + "; COMMIT", (Json({"turn": i}), conversation))

            name = "psycopg, BEGIN and COMMIT sent with a neighbour (4 round trips)"
            await timed(name, count, joined, rows)
        if importlib.util.find_spec("asyncpg") is not None:
            await asyncpg_turns(count, rows)
        else:
            rows.append("| asyncpg | not installed | | |")
    finally:
        async with await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) as cleanup:
            await cleanup.execute("DROP TABLE IF EXISTS bench_turn_conversations, bench_turn_messages")


async def asyncpg_turns(count: int, rows: list[str]) -> None:
    import asyncpg  # type: ignore[import-not-found,unused-ignore]

    def numbered(sql: str) -> str:
        parts = sql.split("%s")
        return "".join(part + (f"${n}" if n < len(parts) else "") for n, part in enumerate(parts, 1))

    connection = await asyncpg.connect("postgresql://postgres@127.0.0.1/test")
    try:

        async def one_by_one(i: int) -> None:
            conversation = i % 100 + 1
            async with connection.transaction():
                await connection.fetch(numbered(SENDER), conversation)
                await connection.fetch(numbered(MESSAGE), conversation, "где мой заказ")
                await connection.fetch(numbered(REPLIES), conversation, "один", conversation, "два")
                state = numbered(STATE).replace("$1", "$1::json")
                await connection.execute(state, f'{{"turn": {i}}}', conversation)

        await timed("asyncpg, a round trip per statement", count, one_by_one, rows)
    finally:
        await connection.close()


def backend_cpu_seconds() -> float:
    """CPU time so far of the PostgreSQL server processes serving clients (this machine's /proc)."""
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        pids = connection.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for (pid,) in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


async def store_turns(count: int, rows: list[str]) -> None:
    """Customer turns through ``TurnStore`` on PostgreSQL: client and server CPU per turn."""
    import psycopg

    from bot.messages import InboundMessage
    from bot.store import Database, upgrade

    schema = "bench_store_turns"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    database = Database.open(f"postgresql+psycopg://postgres@127.0.0.1/test?options=-csearch_path%3D{schema}")
    try:
        await upgrade(database.engine)
        turns = iter(range(10**9))

        async def customer_turns(client: int, how_many: int) -> None:
            for n in range(how_many):
                turn = next(turns)
                now = datetime.now(UTC)
                inbound = InboundMessage(
                    "rest", f"customer-{client}-{n // 4}", "сколько стоит доставка", f"m{turn}"
                )
                nlu = {"intent": {"name": "delivery_cost", "confidence": 0.97}, "entities": []}
                async with database.turns.transaction() as transaction:
                    entered = await transaction.enter(
                        inbound, nlu=nlu, model_version="v1", language="ru", now=now
                    )
                    await transaction.say(entered.conversation_id, ["Курьером — 1–2 дня."], now)
                    await transaction.save_dialogue(
                        entered.conversation_id,
                        dialogue={"turn": turn, "answers": ["delivery_cost"]},
                        slots={"city": "Москва"},
                        active_loop=None,
                        misunderstood=0,
                        now=now,
                    )
                    await transaction.commit()

        clients = 16
        await asyncio.gather(*(customer_turns(c, 8) for c in range(clients)))  # connections, statements
        server, wall, cpu = backend_cpu_seconds(), time.perf_counter(), time.process_time()
        await asyncio.gather(*(customer_turns(clients + c, count // clients) for c in range(clients)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server = backend_cpu_seconds() - server
        done = count // clients * clients
        rows.append(
            f"| TurnStore turns on PostgreSQL, 16 in flight ({done / wall:.0f} turns/s) | "
            f"{wall / done * 1e3:.2f} | {cpu / done * 1e3:.2f} | {server / done * 1e3:.2f} |"
        )
    finally:
        await database.close()
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def main_async(args: argparse.Namespace) -> str:
    rows = ["| what | wall ms | client CPU ms | server CPU ms |", "|---|---|---|---|"]
    if args.store_turns_only:
        await store_turns(args.turns * 4, rows)
        return "\n".join(rows)
    with shop_stub(args.port) as base:
        await http_calls(base, args.requests, rows)
    await postgres_turns(args.turns, rows)
    await store_turns(args.turns * 4, rows)
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="HTTP calls per client (500)")
    parser.add_argument("--turns", type=int, default=1000, help="PostgreSQL turns per variant (1000)")
    parser.add_argument("--port", type=int, default=18931, help="the shop stub's port on 127.0.0.1")
    parser.add_argument(
        "--store-turns-only", action="store_true", help="only part 3: TurnStore on PostgreSQL"
    )
    args = parser.parse_args()
    print(uvloop.run(main_async(args)))


if __name__ == "__main__":
    main()
