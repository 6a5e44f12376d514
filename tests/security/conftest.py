"""The security tests use the server tests' apps (``make_app``) and the store tests' databases (``db``)."""

from tests.server.conftest import clock, make_app, sqlite_url  # noqa: F401
from tests.store.conftest import db, db_url  # noqa: F401
