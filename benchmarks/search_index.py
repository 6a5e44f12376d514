"""What the full-text search index costs a customer turn on SQLite: the same turns without and with it.

    python benchmarks/search_index.py [--turns 2000] [--no-write]

A customer turn through ``bot.store.TurnStore`` (the message stored, one bot reply, commit)
on a database migrated to 0007 (no search index) and to 0008 (FTS5 kept by triggers over
what customers and operators write; the bot's replies are not indexed), two rounds each,
process CPU per turn and the median turn. A new SQLite file each time, nothing else running.
Section "search-index" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.docs import write_section
from bot.messages import InboundMessage
from bot.store import Database, upgrade
from bot.store.models import utcnow

QUESTION = "Где мой заказ {n}? Хочу оформить возврат велосипеда"
ANSWER = "Курьером — 1–2 дня. Стоимость доставки 390 рублей, бесплатно от 5000."
WARM_UP = 200


async def measure(revision: str, turns: int) -> tuple[float, float]:
    """(CPU µs per turn, median ms per turn) on a database at ``revision``."""
    with tempfile.TemporaryDirectory() as tmp:
        async with Database.open(f"sqlite:///{Path(tmp) / 'turns.db'}") as db:
            await upgrade(db.engine, revision)

            async def turn(n: int) -> None:
                async with db.turns.transaction() as transaction:
                    entered = await transaction.enter(
                        InboundMessage("rest", f"customer-{n % 200}", QUESTION.format(n=n)),
                        nlu={"intent": {"name": "order_status", "confidence": 0.9}},
                        model_version="benchmark",
                        language="ru",
                        now=utcnow(),
                    )
                    await transaction.say(entered.conversation_id, [ANSWER], utcnow())
                    await transaction.commit()

            for n in range(WARM_UP):
                await turn(n)
            times = []
            started = time.process_time()
            for n in range(WARM_UP, WARM_UP + turns):
                began = time.perf_counter()
                await turn(n)
                times.append(time.perf_counter() - began)
            return 1e6 * (time.process_time() - started) / turns, 1e3 * statistics.median(times)


async def main_async(turns: int) -> str:
    lines = [
        "## The search index's cost to a customer turn (SQLite)",
        "",
        f"`python benchmarks/search_index.py --turns {turns}`: two rounds each, a new SQLite file each time.",
        "",
        "| schema | CPU µs per turn | median ms per turn |",
        "|---|---|---|",
    ]
    for round_ in (1, 2):
        for revision, name in (("0007", "without the search index (0007)"), ("0008", "with it (0008)")):
            cpu, median = await measure(revision, turns)
            lines.append(f"| {name}, round {round_} | {cpu:.0f} | {median:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=2000, help="measured turns per round (2000)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    report = asyncio.run(main_async(args.turns))
    print(report)
    if not args.no_write:
        write_section("search-index", report)
        print("written to docs/benchmarks.md (section search-index)")


if __name__ == "__main__":
    main()
