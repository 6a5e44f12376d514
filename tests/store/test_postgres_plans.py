"""The turn's statements keep index plans on PostgreSQL, however small the tables were when prepared.

A statement prepared on the server (``JoinedPsycopgDriver``) keeps a generic plan on its
connection. Made on a new deployment's empty tables, a plan that scans a table costs
nothing then and a scan of the whole table at every turn later, until the table is
analysed again. So each kept statement of ``bot.store.turns`` is planned here, generically,
on the empty tables of a fresh migration, and must read them through indexes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.store import Database, turns
from bot.store.prepared import Prepared

pytestmark = pytest.mark.postgres


def _kept_statements() -> Iterator[tuple[str, Prepared]]:
    """The module's ``Prepared`` constants that are prepared on the server (those with a name)."""
    for name, value in sorted(vars(turns).items()):
        candidates = value.items() if isinstance(value, dict) else [("", value)]
        for key, prepared in candidates:
            if isinstance(prepared, Prepared) and prepared.name is not None:
                yield f"{name}{key and f'[{key}]'}", prepared


async def test_no_kept_statement_scans_a_whole_table_in_its_generic_plan(pg_db: Database) -> None:
    statements = list(_kept_statements())
    assert len(statements) >= 15  # the turn's statements were found
    scanning: dict[str, list[str]] = {}
    async with pg_db.engine.connect() as connection:
        raw: Any = (await connection.get_raw_connection()).driver_connection
        raw.prepare_threshold = None  # psycopg's own prepared statements stay out of the way
        await raw.execute("SET plan_cache_mode = force_generic_plan")  # as a kept statement is planned
        for number, (label, prepared) in enumerate(statements):
            sql, names = prepared.compiled(pg_db.engine.dialect).numbered
            await raw.execute(f"PREPARE plan_{number} AS {sql}")
            unknown = f"({', '.join(['NULL'] * len(names))})" if names else ""
            cursor = await raw.execute(f"EXPLAIN EXECUTE plan_{number}{unknown}")
            plan = [line for (line,) in await cursor.fetchall()]
            scans = [line.strip() for line in plan if "Seq Scan" in line]
            if scans:
                scanning[label] = scans
        await raw.execute("DEALLOCATE ALL")
    assert scanning == {}
