"""The REST channel under load: `botdesk run` in its own process, customers at a fixed rate.

    python benchmarks/rest_load.py [--rate 200] [--seconds 20] [--senders 500]
                                   [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

What it measures, on the default bot (DESIGN.md's budgets):
- server start to ready: from spawning `botdesk run` (model already trained) to the first
  200 from /healthz;
- memory: the server's RSS after start and after the load;
- latency of a bot reply through the REST webhook, persisted, at a fixed arrival rate
  (open loop: a slow answer does not slow the senders down, and latency counts from
  when the message was due, so queueing shows);
- lost messages: sent minus customer messages in the store afterwards, plus any answer
  that was not 200.

Only 127.0.0.1 is used; the run is bounded by --seconds and stops by itself. The
numbers go to docs/benchmarks.md (section "rest").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from benchmarks.docs import write_section
from bot.store import Database, Message, Sender

REPO = Path(__file__).resolve().parents[1]
BOTDESK = Path(sys.executable).with_name("botdesk")
QUESTIONS = [
    "сколько стоит доставка по москве",
    "какие способы оплаты у вас есть",
    "где мой заказ 123456",
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


async def load(url: str, rate: float, seconds: float, senders: int, run: Run) -> None:
    """Open loop: message i is due at start + i / rate, whatever happened to the others."""
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one(i: int, due: float) -> None:
            body = {
                "sender": f"load-{rng.randrange(senders)}",
                "message": rng.choice(QUESTIONS),
                "message_id": f"m{i}",
            }
            try:
                response = await client.post("/webhooks/rest/webhook", json=body)
            except httpx.HTTPError as exc:
                run.fail(type(exc).__name__)
                return
            if response.status_code != 200:
                run.fail(f"HTTP {response.status_code}")
                return
            if not response.json():  # a person owns the dialogue now (repeated question, say)
                run.silent += 1
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


async def main_async(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="botdesk-load-") as tmp:
        project = copy_default_bot(Path(tmp))
        env = {**os.environ, "BOTDESK_ADMIN_PASSWORD": "load-test"}
        database_url = args.database_url or f"sqlite:///{project / 'botdesk.db'}"
        env["BOTDESK_DATABASE_URL"] = database_url
        if database_url.startswith("postgresql"):
            await reset_postgres(database_url)
        print("training the default bot ...", flush=True)
        subprocess.run([str(BOTDESK), "train", "--project", str(project)], check=True, env=env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(BOTDESK), "run", "--project", str(project), "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            ready = await wait_ready(url, process)
            idle_rss = rss_mb(process.pid)
            print(f"ready in {ready:.2f} s, {idle_rss:.0f} MB RSS; warming up ...", flush=True)
            await load(url, 50, 2, 50, Run())  # connections, caches, first-time code paths
            before = await stored_customer_messages(database_url, project)
            run = Run()
            print(f"{args.rate:g}/s for {args.seconds:g} s from {args.senders} senders ...", flush=True)
            started = time.perf_counter()
            await load(url, args.rate, args.seconds, args.senders, run)
            elapsed = time.perf_counter() - started
            loaded_rss = rss_mb(process.pid)
            stored = await stored_customer_messages(database_url, project) - before
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    lost = run.sent - stored
    achieved = len(run.latencies) / elapsed
    ms = [1000 * x for x in run.latencies]
    store = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite (WAL)"
    failures = ", ".join(f"{k}: {v}" for k, v in sorted(run.failures.items())) or "none"
    lines = [
        f"## REST channel under load ({store})",
        "",
        f"`python benchmarks/rest_load.py --rate {args.rate:g} --seconds {args.seconds:g} "
        f"--senders {args.senders}{' --database-url ...' if args.database_url else ''}`: "
        "`botdesk run` with the default bot in its own process, an open-loop load generator "
        f"in another, both on this {os.cpu_count()}-core machine. Latency counts from when each "
        "message was due to the bot's answer (stored before it is answered).",
        "",
        "| what | measured | budget |",
        "|---|---|---|",
        f"| server start to ready (model trained) | {ready:.2f} s | < 5 s |",
        f"| RSS after start / after the load | {idle_rss:.0f} MB / {loaded_rss:.0f} MB | < 300 MB |",
        f"| messages sent / answered / stored | {run.sent} / {len(run.latencies)} / {stored} | |",
        f"| of them handed to a person (the bot stays silent) | {run.silent} | |",
        f"| lost (sent but not stored) | {lost} | 0 |",
        f"| failed answers | {failures} | none |",
        f"| throughput answered | {achieved:.0f} messages/s | 200 |",
        f"| latency p50 / p95 / p99 / max | {percentile(ms, 0.5):.1f} / {percentile(ms, 0.95):.1f} / "
        f"{percentile(ms, 0.99):.1f} / {max(ms):.1f} ms | p99 < 50 ms |",
        f"| latency mean | {statistics.fmean(ms):.1f} ms | |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200, help="messages per second (default 200)")
    parser.add_argument("--seconds", type=float, default=20, help="how long to send (default 20)")
    parser.add_argument("--senders", type=int, default=500, help="distinct customers (default 500)")
    parser.add_argument("--database-url", help="PostgreSQL URL instead of a fresh SQLite file")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(report)
    if not args.no_write:
        section = "rest-postgres" if args.database_url else "rest"
        write_section(section, report)
        print(f"written to docs/benchmarks.md ({section})")


if __name__ == "__main__":
    main()
