"""KPI tests run on SQLite and PostgreSQL, with the store's fixtures."""

from tests.store.conftest import db, db_url  # noqa: F401
