"""The WhatsApp channel's secrets and addresses, only ever from the environment.

``WHATSAPP_TOKEN`` (a system user's permanent access token) switches the channel on;
``WHATSAPP_APP_SECRET`` (the Meta app's secret: every webhook call is signed with it)
and ``WHATSAPP_VERIFY_TOKEN`` (your own string, typed into the webhook's settings too)
are required with it. ``WHATSAPP_PHONE_NUMBER_ID`` (or ``channels.whatsapp.phone_number_id``)
names the business number. ``WHATSAPP_API_BASE_URL`` and ``WHATSAPP_API_VERSION`` point
the channel at another Graph API (a test fake) or another version.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.channels.whatsapp.options import WhatsAppSettings
from bot.errors import ConfigError

TOKEN_ENV = "WHATSAPP_TOKEN"
APP_SECRET_ENV = "WHATSAPP_APP_SECRET"
VERIFY_TOKEN_ENV = "WHATSAPP_VERIFY_TOKEN"
PHONE_NUMBER_ENV = "WHATSAPP_PHONE_NUMBER_ID"
BASE_URL_ENV = "WHATSAPP_API_BASE_URL"
VERSION_ENV = "WHATSAPP_API_VERSION"
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v23.0"
SECRET_TEXT = re.compile(r"^[\x21-\x7e]{8,1024}$")  # printable ASCII, no spaces
PHONE_NUMBER_ID = re.compile(r"^[0-9]{1,32}$")
VERSION = re.compile(r"^v[0-9]{1,3}\.[0-9]{1,3}$")
HTTP_URL = re.compile(r"^https?://[^/\s]+(/[^\s]*)?$")


@dataclass(frozen=True)
class WhatsAppCredentials:
    """Where and how to reach the Graph API, and the webhook's secrets (never logged: ``repr`` hides them)."""

    token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    phone_number_id: str
    base_url: str = DEFAULT_BASE_URL
    api_version: str = DEFAULT_VERSION

    @property
    def api_url(self) -> str:
        """``https://graph.facebook.com/v23.0``: every call's prefix."""
        return f"{self.base_url.rstrip('/')}/{self.api_version}"


def _secret(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: the WhatsApp channel needs {what} (docs/channels/whatsapp.md)")
    if not SECRET_TEXT.match(value):
        raise ConfigError(f"{name} must be 8 to 1024 printable characters without spaces")
    return value


def whatsapp_credentials(
    settings: WhatsAppSettings, environ: Mapping[str, str] | None = None
) -> WhatsAppCredentials | None:
    """The credentials from the environment; None without WHATSAPP_TOKEN.

    Raises:
        ConfigError: the token is set but something else is missing or malformed.
    """
    env = os.environ if environ is None else environ
    if not env.get(TOKEN_ENV, "").strip():
        return None
    token = _secret(env, TOKEN_ENV, "an access token")
    app_secret = _secret(env, APP_SECRET_ENV, "the app secret, to check that webhook calls come from Meta")
    verify_token = _secret(env, VERIFY_TOKEN_ENV, "the verify token you type into the webhook's settings")
    phone_number_id = env.get(PHONE_NUMBER_ENV, "").strip() or settings.phone_number_id or ""
    if not PHONE_NUMBER_ID.match(phone_number_id):
        raise ConfigError(
            f"set {PHONE_NUMBER_ENV} (or channels.whatsapp.phone_number_id) to the phone number's id, "
            "digits only (WhatsApp > API Setup in the Meta app)"
        )
    base_url = env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    if not HTTP_URL.match(base_url):
        raise ConfigError(f"{BASE_URL_ENV} must be an http:// or https:// URL such as {DEFAULT_BASE_URL}")
    version = env.get(VERSION_ENV, "").strip() or DEFAULT_VERSION
    if not VERSION.match(version):
        raise ConfigError(f"{VERSION_ENV} must be a Graph API version such as {DEFAULT_VERSION}")
    return WhatsAppCredentials(token, app_secret, verify_token, phone_number_id, base_url, version)
