"""KPI tests run on SQLite and PostgreSQL, with the store's fixtures."""
