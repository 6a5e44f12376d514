"""The VK channel's secrets and addresses, only ever from the environment.

``VK_GROUP_TOKEN`` (a community access token, Manage > API usage) switches the channel on.
``VK_API_BASE_URL`` points it at another API address (a local fake in the tests), in the
form of VK's own, ``https://api.vk.com/method``. ``VK_CALLBACK_SECRET`` is the Callback
API's secret key, which VK puts in every event (required in callback mode);
``VK_CONFIRMATION_CODE`` and ``VK_GROUP_ID`` may stand in for config.yml's
``confirmation_code`` and ``group_id``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.channels.vk.options import VkSettings
from bot.errors import ConfigError

TOKEN_ENV = "VK_GROUP_TOKEN"
BASE_URL_ENV = "VK_API_BASE_URL"
SECRET_ENV = "VK_CALLBACK_SECRET"
CONFIRMATION_ENV = "VK_CONFIRMATION_CODE"
GROUP_ENV = "VK_GROUP_ID"
DEFAULT_BASE_URL = "https://api.vk.com/method"
TOKEN = re.compile(r"^[A-Za-z0-9._-]{16,512}$")
SECRET = re.compile(r"^[A-Za-z0-9]{1,50}$")  # VK's own rule for the secret key
CONFIRMATION = re.compile(r"^[A-Za-z0-9]{1,64}$")
HTTP_URL = re.compile(r"^https?://[^/\s]+")


@dataclass(frozen=True)
class VkCredentials:
    """Where and how to reach the VK API; never logged (the token is the community's key)."""

    token: str
    base_url: str
    group_id: int | None
    secret: str | None
    confirmation_code: str | None

    def __repr__(self) -> str:
        return f"VkCredentials(base_url={self.base_url!r}, group_id={self.group_id!r})"


def vk_credentials(settings: VkSettings, environ: Mapping[str, str] | None = None) -> VkCredentials | None:
    """The credentials from the environment (and config.yml), None without a token.

    Raises:
        ConfigError: a malformed value, or callback mode without its secret key or
            confirmation string.
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        return None
    if not TOKEN.match(token):
        raise ConfigError(f"{TOKEN_ENV} does not look like a VK community access token")
    base_url = (env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL).rstrip("/")
    if not HTTP_URL.match(base_url):
        raise ConfigError(f"{BASE_URL_ENV} must be an http:// or https:// URL such as {DEFAULT_BASE_URL}")
    group = env.get(GROUP_ENV, "").strip()
    if group and not (group.isdigit() and int(group) > 0):
        raise ConfigError(f"{GROUP_ENV} must be the community's numeric id (without the minus sign)")
    secret = env.get(SECRET_ENV, "").strip() or None
    if secret is not None and not SECRET.match(secret):
        raise ConfigError(f"{SECRET_ENV} may hold only A-Z, a-z and 0-9, at most 50 characters (VK's rule)")
    confirmation = env.get(CONFIRMATION_ENV, "").strip() or settings.confirmation_code
    if confirmation is not None and not CONFIRMATION.match(confirmation):
        raise ConfigError(f"{CONFIRMATION_ENV} must be the string VK shows (letters and digits)")
    if settings.mode == "callback":
        if secret is None:
            raise ConfigError(
                f"channels.vk.mode is callback but {SECRET_ENV} is not set: set the same secret key "
                "in VK (Manage > API usage > Callback API > Settings) and in the environment"
            )
        if confirmation is None:
            raise ConfigError(
                f"channels.vk.mode is callback but neither {CONFIRMATION_ENV} nor "
                "channels.vk.confirmation_code gives the string VK asks the server to return"
            )
    return VkCredentials(
        token=token,
        base_url=base_url,
        group_id=int(group) if group else settings.group_id,
        secret=secret,
        confirmation_code=confirmation,
    )
