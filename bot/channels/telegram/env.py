"""The Telegram channel's secrets and addresses, only ever from the environment.

``TELEGRAM_BOT_TOKEN`` (from @BotFather) switches the channel on.
``TELEGRAM_API_BASE_URL`` points it at another Bot API server (a self-hosted one, or a
test fake) in python-telegram-bot's form, e.g. ``http://127.0.0.1:8081/bot``; files
come from the same server's ``/file/bot`` unless ``TELEGRAM_API_FILE_URL`` says otherwise.
``TELEGRAM_WEBHOOK_SECRET`` is the ``secret_token`` Telegram sends with every webhook
update; without it each start generates one (set it when several processes share a bot).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping

from bot.channels.telegram.client import TelegramCredentials
from bot.errors import ConfigError

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_API_BASE_URL"
FILE_URL_ENV = "TELEGRAM_API_FILE_URL"
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
HTTP_URL = re.compile(r"^https?://[^/\s]+")


def file_url_for(base_url: str) -> str:
    """Telegram's layout: ``https://api.telegram.org/bot`` -> ``https://api.telegram.org/file/bot``."""
    if base_url.endswith("/bot"):
        return base_url[: -len("/bot")] + "/file/bot"
    return base_url.rstrip("/") + "/file/bot"


def telegram_options(environ: Mapping[str, str] | None = None) -> TelegramCredentials | None:
    """The options from the environment, None without a token; a malformed value is a ConfigError."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        return None
    if not TOKEN.match(token):
        raise ConfigError(f"{TOKEN_ENV} does not look like a bot token from @BotFather (digits:letters)")
    base_url = env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    file_url = env.get(FILE_URL_ENV, "").strip() or file_url_for(base_url)
    for name, url in ((BASE_URL_ENV, base_url), (FILE_URL_ENV, file_url)):
        if not HTTP_URL.match(url):
            raise ConfigError(f"{name} must be an http:// or https:// URL such as {DEFAULT_BASE_URL}")
    secret = env.get(SECRET_ENV, "").strip()
    if secret and not SECRET.match(secret):
        raise ConfigError(f"{SECRET_ENV} may hold only A-Z, a-z, 0-9, _ and -, at most 256 characters")
    return TelegramCredentials(
        token=token,
        base_url=base_url,
        base_file_url=file_url,
        webhook_secret=secret or secrets.token_urlsafe(32),
    )
