"""The security tests use the server tests' apps (``make_app``), the store tests' databases (``db``)
and the Telegram tests' fake Bot API (``telegram_env``)."""

from tests.channels.conftest import fake, telegram_env  # noqa: F401
from tests.server.conftest import clock, make_app, sqlite_url  # noqa: F401
from tests.store.conftest import db, db_url  # noqa: F401
