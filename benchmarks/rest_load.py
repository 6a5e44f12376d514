"""The REST channel under load: `botdesk run` in its own process(es), customers on 127.0.0.1.

    python benchmarks/rest_load.py --suite [--seconds 15] [--rasa-url http://127.0.0.1:5005]
    python benchmarks/rest_load.py [--rate 200 | --clients 16] [--processes 2]
                                   [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

What it measures, on the default bot (DESIGN.md's budgets):
- server start to ready: from spawning `botdesk run` (model already trained) to the first
  200 from /healthz;
- memory: each server's RSS after the load;
- a bot reply through the REST webhook, persisted: open loop (messages due at a fixed
  rate; latency counts from when a message was due, so queueing shows) or closed loop
  (N clients, each sending its next message when answered: the throughput);
- lost messages: sent minus customer messages in the store afterwards, plus any answer
  that was not 200.

`--suite` runs the table issue 8 asks for: 200 msg/s; 1 and 16 clients on SQLite and on
PostgreSQL; 2 processes on one PostgreSQL; and, with `--rasa-url`, the same clients
against a Rasa server (its REST channel takes the same requests). Only 127.0.0.1 is
used; every run is bounded by --seconds and stops by itself. The table goes to
docs/benchmarks.md (section "rest").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import func, select

from benchmarks.docs import write_section
from bot.store import Database, Message, Sender

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BOTDESK = Path(sys.executable).with_name("botdesk")
QUESTIONS = [
    "сколько стоит доставка по москве",
    "какие способы оплаты у вас есть",
    "где мой заказ 1234567",  # answered from the shop's API (the bundled stub, see shop_stub())
    "можно вернуть велосипед если не подошёл",
    "во сколько вы работаете в субботу",
    "есть ли в наличии самокат xiaomi",
    "какая гарантия на электросамокат",
    "есть скидки для студентов?",
    "где находится ваш магазин",
    "привет",
    "спасибо большое",
    "дайте телефон магазина",
]


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    silent: int = 0

    def fail(self, why: str) -> None:
        self.failures[why] = self.failures.get(why, 0) + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def copy_default_bot(target: Path) -> Path:
    shutil.copy2(REPO / "config.yml", target / "config.yml")
    for name in ("intents", "stories"):
        shutil.copytree(REPO / name, target / name)
    return target


async def wait_ready(url: str, process: subprocess.Popen[bytes], limit: float = 60) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient() as client:
        while time.perf_counter() - started < limit:
            if process.poll() is not None:
                raise SystemExit(f"botdesk run exited with {process.returncode}")
            try:
                if (await client.get(url + "/healthz", timeout=1)).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.02)
    raise SystemExit(f"botdesk did not become ready in {limit} s")


RUN_ID = secrets.token_hex(4)  # this invocation's customers
MESSAGES_PER_CUSTOMER = 4  # a customer asks this many different questions, then leaves
OPEN_LOOP_CUSTOMERS = 50  # customers writing at once in the open loop


def customer_questions(rng: random.Random) -> list[str]:
    """One customer's visit: a few different questions (asked again, one would reach a person)."""
    return rng.sample(QUESTIONS, MESSAGES_PER_CUSTOMER)


async def send(
    client: aiohttp.ClientSession, url: str, sender: str, text: str, message_id: str, run: Run
) -> bool:
    """POST one message; False (and counted) when it was not answered with 200."""
    body = {"sender": sender, "message": text, "message_id": message_id}
    try:
        async with client.post(url + "/webhooks/rest/webhook", json=body) as response:
            if response.status != 200:
                run.fail(f"HTTP {response.status}")
                return False
            if not await response.json():  # a person owns the dialogue now
                run.silent += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        run.fail(type(exc).__name__)
        return False
    return True


def http_client(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def load(url: str, rate: float, seconds: float, run: Run) -> None:
    """Open loop: message i is due at start + i / rate, whatever happened to the others.

    ``OPEN_LOOP_CUSTOMERS`` customers write in turn, each ``MESSAGES_PER_CUSTOMER``
    different questions, then a new customer takes their place.
    """
    rng = random.Random(7)
    plans: dict[str, list[str]] = {}
    async with http_client(512) as client:

        async def one(i: int, due: float) -> None:
            slot, turn = i % OPEN_LOOP_CUSTOMERS, i // OPEN_LOOP_CUSTOMERS
            sender = f"open-{slot}-{turn // MESSAGES_PER_CUSTOMER}"
            plan = plans.setdefault(sender, customer_questions(rng))
            if await send(client, url, sender, plan[turn % MESSAGES_PER_CUSTOMER], f"m{i}", run):
                run.latencies.append(time.perf_counter() - due)

        total = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
            run.sent += 1
        await asyncio.gather(*tasks)


async def clients_load(
    url: str | list[str], clients: int, seconds: float, run: Run, prefix: str = "client"
) -> None:
    """Closed loop: ``clients`` at once, each sending its next message when answered.

    Each client plays one customer after another (``MESSAGES_PER_CUSTOMER`` different
    questions each). With several URLs (several server processes) client i talks to URL
    i mod n.
    """
    urls = [url] if isinstance(url, str) else url
    deadline = time.perf_counter() + seconds
    async with http_client(clients + 4) as client:

        async def customer(index: int) -> None:
            rng = random.Random(index)
            base = urls[index % len(urls)]
            n = 0
            while time.perf_counter() < deadline:
                visit = n // MESSAGES_PER_CUSTOMER
                if n % MESSAGES_PER_CUSTOMER == 0:
                    plan = customer_questions(rng)
                run.sent += 1
                started = time.perf_counter()
                sender = f"{prefix}-{index}-{visit}"
                if await send(client, base, sender, plan[n % MESSAGES_PER_CUSTOMER], f"{sender}-{n}", run):
                    run.latencies.append(time.perf_counter() - started)
                n += 1

        await asyncio.gather(*(customer(i) for i in range(clients)))


async def stored_customer_messages(database_url: str, base_dir: Path) -> int:
    async with Database.open(database_url, base_dir=base_dir) as db, db.reader() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.sender == Sender.CUSTOMER)
        )
        return int(count or 0)


async def reset_postgres(database_url: str) -> None:
    """An empty schema, so that 'stored' counts only this run's messages."""
    from sqlalchemy import text

    async with Database.open(database_url) as db, db.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


@dataclass
class Case:
    """One row of the table: who serves, on which store, under which load."""

    store: str  # "SQLite" | "PostgreSQL" | "-" (Rasa keeps trackers in memory)
    processes: int
    clients: int | None  # closed loop with this many clients, or None: open loop at ``rate``
    rate: float
    seconds: float
    rasa_url: str | None = None
    rasa_pid: int | None = None  # to read the Rasa server's CPU time, when given
    prefix: str = "client"  # the simulated customers' ids (see ``run_case``)
    access_log: bool = False  # botdesk run --access-log

    @property
    def server(self) -> str:
        return "Rasa" if self.rasa_url else "botdesk"

    @property
    def load(self) -> str:
        return f"{self.clients} client(s)" if self.clients else f"{self.rate:g} msg/s open loop"


@dataclass
class Row:
    case: Case
    run: Run
    elapsed: float
    stored: int | None
    ready: float | None
    rss: list[float]
    cpu_ms: float | None  # the server processes' CPU per answered message
    generator_ms: float | None = None  # this load generator's CPU per sent message


@contextlib.contextmanager
def shop_stub() -> Iterator[str]:
    """The bundled shop API (`botdesk shop-stub`) in its own process, as a shop's server would be.

    The default bot looks an order up there (an HTTP action): without it an order question
    would fail and hand the customer to a person, and the rest of their messages go unanswered.
    """
    port = free_port()
    process = subprocess.Popen(
        [str(BOTDESK), "shop-stub", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def start_servers(
    project: Path, env: dict[str, str], count: int, access_log: bool = False
) -> list[tuple[str, subprocess.Popen[bytes]]]:
    servers = []
    for _ in range(count):
        port = free_port()
        command = [str(BOTDESK), "run", "--project", str(project), "--port", str(port)]
        if access_log:
            command.append("--access-log")
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append((f"http://127.0.0.1:{port}", process))
    return servers


def stop_servers(servers: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, process in servers:
        process.send_signal(signal.SIGTERM)
    for _, process in servers:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def run_case(case: Case, postgres_url: str) -> Row:
    run = Run()
    if case.rasa_url:  # a Rasa server started by hand: same webhook, nothing to count in a store
        # Customers it has not seen (its trackers live as long as it does): a returning id
        # would carry an ever longer history from one run to the next and slow Rasa down.
        prefix = f"{case.prefix}-{RUN_ID}"
        await clients_load(case.rasa_url, 2, 2, Run(), prefix=f"warm-up-{prefix}")
        cpu_before = cpu_seconds(case.rasa_pid) if case.rasa_pid else 0.0
        started = time.perf_counter()
        await clients_load(case.rasa_url, case.clients or 1, case.seconds, run, prefix=prefix)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(case.rasa_pid) - cpu_before if case.rasa_pid else None
        cpu_ms = 1000 * cpu / len(run.latencies) if cpu is not None and run.latencies else None
        return Row(case, run, elapsed, None, None, [], cpu_ms)
    with tempfile.TemporaryDirectory(prefix="botdesk-load-") as tmp, shop_stub() as shop_url:
        project = copy_default_bot(Path(tmp))
        env = {**os.environ, "BOTDESK_ADMIN_PASSWORD": "load-test", "BOTDESK_SHOP_URL": shop_url}
        database_url = postgres_url if case.store == "PostgreSQL" else f"sqlite:///{project / 'botdesk.db'}"
        env["BOTDESK_DATABASE_URL"] = database_url
        if case.store == "PostgreSQL":
            await reset_postgres(database_url)
        subprocess.run(
            [str(BOTDESK), "train", "--project", str(project)], check=True, env=env, capture_output=True
        )
        if case.processes > 1:  # migrate once, before the processes race to do it
            subprocess.run(
                [str(BOTDESK), "db", "upgrade", "--project", str(project)],
                check=True,
                env=env,
                capture_output=True,
            )
        servers = start_servers(project, env, case.processes, case.access_log)
        try:
            ready = max([await wait_ready(url, process) for url, process in servers])
            urls = [url for url, _ in servers]
            # connections, caches, first-time code paths
            await clients_load(urls, 4, 2, Run(), prefix="warm-up")
            before = await stored_customer_messages(database_url, project)
            cpu_before = sum(cpu_seconds(process.pid) for _, process in servers)
            generator_before = time.process_time()
            started = time.perf_counter()
            if case.clients:
                await clients_load(urls, case.clients, case.seconds, run, prefix=case.prefix)
            else:
                await load(urls[0], case.rate, case.seconds, run)
            elapsed = time.perf_counter() - started
            generator = time.process_time() - generator_before
            rss = [rss_mb(process.pid) for _, process in servers]
            cpu = sum(cpu_seconds(process.pid) for _, process in servers) - cpu_before
            stored = await stored_customer_messages(database_url, project) - before
        finally:
            stop_servers(servers)
    cpu_ms = 1000 * cpu / len(run.latencies) if run.latencies else None
    generator_ms = 1000 * generator / run.sent if run.sent else None
    return Row(case, run, elapsed, stored, ready, rss, cpu_ms, generator_ms)


def latencies_ms(row: Row) -> list[float]:
    return [1000 * x for x in row.run.latencies] or [float("nan")]


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| server | store | processes | load | answered msg/s | p50 ms | p99 ms | errors | lost "
        "| silent | RSS MB | server CPU ms/msg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ms = latencies_ms(row)
        lost = "n/a" if row.stored is None else str(row.run.sent - row.stored)
        errors = sum(row.run.failures.values())
        server = "Rasa 3.6 (REST channel)" if row.case.rasa_url else row.case.server
        rss = " + ".join(f"{r:.0f}" for r in row.rss) or "n/a"
        lines.append(
            f"| {server} | {row.case.store} | {row.case.processes} | {row.case.load} | "
            f"{len(row.run.latencies) / row.elapsed:.0f} | {percentile(ms, 0.5):.1f} | "
            f"{percentile(ms, 0.99):.1f} | {errors} | {lost} | {row.run.silent} | {rss} | "
            f"{'n/a' if row.cpu_ms is None else f'{row.cpu_ms:.2f}'} |"
        )
    return lines


def suite(args: argparse.Namespace) -> list[Case]:
    seconds = args.seconds
    cases = [Case("SQLite", 1, None, args.rate, seconds)]
    for store in ("SQLite", "PostgreSQL"):
        for clients in (1, 16):
            cases.append(Case(store, 1, clients, 0, seconds))
    cases.append(Case("PostgreSQL", 1, None, args.rate, seconds))
    cases.append(Case("PostgreSQL", 2, 16, 0, seconds))
    if args.rasa_url:
        cases += [Case("-", 1, clients, 0, seconds, args.rasa_url, args.rasa_pid) for clients in (1, 16)]
    return cases


PAIRS = 3  # back-to-back botdesk / Rasa runs at 16 clients, for the throughput ratio
PAIRED_STORES = ("SQLite", "PostgreSQL")


def paired_cases(args: argparse.Namespace) -> list[tuple[list[Case], Case]]:
    """botdesk (one process, each store) then Rasa: each group closer in time than the table's rows."""
    seconds = max(5.0, args.seconds / 2)
    return [
        (
            [Case(store, 1, 16, 0, seconds, prefix=f"pair-{n}") for store in PAIRED_STORES],
            Case("-", 1, 16, 0, seconds, args.rasa_url, args.rasa_pid, prefix=f"pair-{n}"),
        )
        for n in range(PAIRS)
    ]


def rate(row: Row) -> float:
    return len(row.run.latencies) / row.elapsed if row.elapsed else 0.0


async def measure(case: Case, postgres_url: str) -> Row:
    """One row, said before and printed after (long runs: the table grows as it goes)."""
    said = f"{case.server}, {case.store}, {case.processes} process(es), {case.load}, {case.seconds:g} s"
    print(said + " ...", flush=True)
    row = await run_case(case, postgres_url)
    print("\n".join(table([row])[2:]), flush=True)
    return row


def compile_sources() -> None:
    """Bytecode for botdesk's own modules, as an installed package has (``pip install -e`` makes none).

    Without it every start compiles them again (and PYTHONDONTWRITEBYTECODE, set on some
    machines, keeps it that way), which is not what a deployment's start costs.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", "bot", "handoff"], cwd=REPO, check=True)


async def main_async(args: argparse.Namespace) -> str:
    if args.suite:
        cases = suite(args)
    else:
        store = "-" if args.rasa_url else "PostgreSQL" if args.database_url else "SQLite"
        cases = [
            Case(
                store,
                args.processes,
                args.clients,
                args.rate,
                args.seconds,
                args.rasa_url,
                args.rasa_pid,
                access_log=args.access_log,
            )
        ]
    compile_sources()
    postgres_url = args.database_url or POSTGRES_URL
    rows = [await measure(case, postgres_url) for case in cases]
    pairs: dict[str, list[tuple[Row, Row]]] = {store: [] for store in PAIRED_STORES}
    if args.suite and args.rasa_url:
        for ours, theirs in paired_cases(args):
            measured = [await measure(case, postgres_url) for case in ours]
            rasa_row = await measure(theirs, postgres_url)
            for row in measured:
                pairs[row.case.store].append((row, rasa_row))
    ready = [row.ready for row in rows if row.ready is not None]
    botdesk = [row for row in rows if not row.case.rasa_url]
    lines = [
        "## REST channel under load",
        "",
        "`python benchmarks/rest_load.py"
        + (" --suite" if args.suite else "")
        + "`"
        + (" with a Rasa server started by hand (`--rasa-url`)" if args.rasa_url else "")
        + f": `botdesk run` with the default bot in its own process(es), the load generator in "
        f"another, all on this {os.cpu_count()}-core machine. Open loop: messages due at a fixed "
        "rate, latency counted from when each was due. Closed loop: each client sends its next "
        "message when the previous one is answered. Lost = sent but not in the store afterwards. "
        "Every botdesk answer is stored before it is sent.",
        "",
        *table(rows),
        "",
        f"Server start to ready (model trained, migrations done): {min(ready):.2f}–{max(ready):.2f} s "
        f"(budget 5 s). RSS after the load: up to {max(max(r.rss) for r in botdesk):.0f} MB "
        "per process (budget 300 MB)."
        if ready and botdesk
        else "",
    ]
    generated = [row.generator_ms for row in botdesk if row.generator_ms is not None]
    generator_cpu = f"{min(generated):.2f}-{max(generated):.2f}" if generated else "n/a"
    lines += [
        "",
        "Reading it: every simulated customer asks "
        f"{MESSAGES_PER_CUSTOMER} different questions and leaves (a new customer takes the "
        "place), so first contacts (a new customer and conversation, the introduction) are a "
        "quarter of the turns and the bot answers every message (silent = answers a person "
        "owned: 0). The load generator (Python, aiohttp) runs on the same cores as the "
        f"server(s) and took {generator_cpu} ms of CPU per message itself. A turn's server CPU "
        "is the last column (this VM's speed varies by up to half from one minute to the "
        "next). Sampled with py-spy on SQLite at 16 clients (each sample counted for the module "
        "it was in), about a third of it is the store (four to six statements compiled once "
        "and run on the driver connection, the transaction begun and committed there, SQLite "
        "itself; docs/store.md), over a quarter the NLU, a fifth HTTP (uvicorn, one socket "
        "write per response, bot/server/coalesce.py; the webhook is answered before FastAPI's "
        "middleware and router, bot/server/lanes.py), under a tenth the conversation "
        "service and a twentieth the dialogue engine. SQLite runs on "
        "the event loop's thread with one writer connection, so its writers queue in the "
        "process instead of backing off, and its log is checkpointed on a worker thread; each "
        "PostgreSQL round trip is one libpq pipeline to a server on the same two cores (two a "
        "customer's usual turn, a first contact's too, statements prepared on the server once "
        "per connection, values sent as parameters, the turns' own pool has no ping per turn), "
        "and the server's own CPU for a turn competes with botdesk's on those cores. Past "
        "what one process answers, an "
        "open-loop load queues up: nothing acknowledged is lost, but latency grows with the "
        "queue. Rasa keeps its trackers in "
        "memory (nothing persisted); every run sends it customers it has not seen (a returning "
        "id would bring an ever longer history from one run to the next and slow it down).",
    ]
    rasa = {row.case.clients: row for row in rows if row.case.rasa_url}
    open_loop = [row for row in botdesk if not row.case.clients]
    if open_loop:
        p99s = ", ".join(
            f"{row.case.store} {percentile(latencies_ms(row), 0.99):.1f} ms" for row in open_loop
        )
        lines.append(f"p99 at {args.rate:g} msg/s: {p99s} (budget: under 50 ms).")
    sixteen = [row for row in botdesk if row.case.clients == 16]
    if 16 in rasa and sixteen:
        rasa_rate = max(1e-9, rate(rasa[16]))
        ratios = ", ".join(
            f"{row.case.store} with {row.case.processes} process(es) {rate(row) / rasa_rate:.1f}"
            for row in sixteen
        )
        lines.append(
            f"At 16 clients botdesk answers this many times as many messages per second as Rasa: "
            f"{ratios} (budget: 20 times)."
        )
    lines += cores_used(rows)
    for store, store_pairs in pairs.items():
        if not store_pairs:
            continue
        ratios_of_pairs = [rate(ours) / max(1e-9, rate(theirs)) for ours, theirs in store_pairs]
        each = ", ".join(
            f"{rate(ours):.0f} / {rate(theirs):.0f} = {ratio:.1f}×"
            for (ours, theirs), ratio in zip(store_pairs, ratios_of_pairs, strict=True)
        )
        paired = sorted(ratios_of_pairs)
        lines.append(
            f"Back to back (botdesk on {store} with one process, then Rasa, 16 clients, "
            f"{store_pairs[0][0].case.seconds:g} s each, {len(store_pairs)} pairs; this VM's speed drifts "
            f"within minutes, so each pair is measured at one time): {each}; median "
            f"{paired[len(paired) // 2]:.1f}× (budget: 20 times)."
        )
    return "\n".join(lines)


def cores_used(rows: list[Row]) -> list[str]:
    """How many cores each server kept busy at 16 clients: its CPU time over the run's time."""
    busy = [
        f"{row.case.server} ({row.case.store}, {row.case.processes} "
        f"process(es)) {row.cpu_ms * rate(row) / 1000:.2f}"
        for row in rows
        if row.case.clients == 16 and row.cpu_ms is not None
    ]
    return [f"Cores kept busy at 16 clients: {', '.join(busy)}."] if busy else []


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200, help="open loop: messages per second (200)")
    parser.add_argument("--clients", type=int, help="closed loop with this many clients instead")
    parser.add_argument("--seconds", type=float, default=20, help="how long each run sends (default 20)")
    parser.add_argument("--processes", type=int, default=1, help="botdesk run processes (PostgreSQL)")
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default {POSTGRES_URL})")
    parser.add_argument("--rasa-url", help="a running Rasa server with the REST channel, for comparison")
    parser.add_argument("--rasa-pid", type=int, help="that Rasa server's process id, for its CPU time")
    parser.add_argument("--suite", action="store_true", help="the whole table: stores, clients, processes")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument(
        "--access-log", action="store_true", help="botdesk run --access-log (a log line per request)"
    )
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(report)
    if not args.no_write:
        write_section("rest", report)
        print("written to docs/benchmarks.md (section rest)")


if __name__ == "__main__":
    main()
