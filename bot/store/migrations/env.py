"""Alembic's environment for botdesk: run only through ``bot.store.migrate``.

There is no alembic.ini; ``bot.store.migrate`` builds the configuration in Python and
hands over an open connection, so the same code path migrates SQLite and PostgreSQL,
from the CLI and from the tests.
"""

from __future__ import annotations

from alembic import context

from bot.store.migrate import context_options

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("botdesk migrations run through `botdesk db upgrade` (bot.store.migrate), online only")
context.configure(connection=connection, **context_options())
with context.begin_transaction():
    context.run_migrations()
