"""The e-mail channel's passwords, only ever from the environment.

``EMAIL_IMAP_PASSWORD`` (the mailbox's password, for Yandex, Mail.ru and Gmail an *app
password*) switches the channel on, together with ``channels.email.address`` and
``imap.host`` in config.yml. ``EMAIL_SMTP_PASSWORD`` is for sending when the SMTP login
differs; by default the IMAP password is used (the same mailbox). A password is never sent
unencrypted to another machine: ``security: plain`` is refused unless the host is this one.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.channels.email.options import EmailChannelSettings
from bot.errors import ConfigError

IMAP_PASSWORD_ENV = "EMAIL_IMAP_PASSWORD"
SMTP_PASSWORD_ENV = "EMAIL_SMTP_PASSWORD"
MAX_PASSWORD_CHARS = 1000


@dataclass(frozen=True)
class EmailCredentials:
    """The logins of the mailbox (IMAP) and of the sending server (SMTP)."""

    imap_password: str
    smtp_password: str

    def __repr__(self) -> str:  # never print a password, not even in a traceback's locals
        return "EmailCredentials(<hidden>)"


def is_local(host: str) -> bool:
    """This machine: localhost or a loopback address."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def email_credentials(
    settings: EmailChannelSettings, environ: Mapping[str, str] | None = None
) -> EmailCredentials | None:
    """The passwords, or None when the channel is not set up (no address, host or password).

    Raises:
        ConfigError: a password that cannot be right, or an unencrypted login to another machine.
    """
    env = os.environ if environ is None else environ
    password = env.get(IMAP_PASSWORD_ENV, "")
    if not password or settings.address is None or settings.imap.host is None:
        return None
    smtp_password = env.get(SMTP_PASSWORD_ENV, "") or password
    for name, value in ((IMAP_PASSWORD_ENV, password), (SMTP_PASSWORD_ENV, smtp_password)):
        if len(value) > MAX_PASSWORD_CHARS or any(ch in value for ch in "\r\n\x00"):
            raise ConfigError(f"{name} must be one line of at most {MAX_PASSWORD_CHARS} characters")
    if settings.imap.security == "plain" and not is_local(settings.imap.host):
        raise ConfigError(
            "channels.email.imap.security: plain would send the password unencrypted; "
            "use ssl (port 993), plain is only for a server on this machine"
        )
    smtp_host = settings.smtp_host
    if settings.smtp.security == "plain" and smtp_host is not None and not is_local(smtp_host):
        raise ConfigError(
            "channels.email.smtp.security: plain would send the password unencrypted; "
            "use ssl (port 465) or starttls (port 587), plain is only for a server on this machine"
        )
    return EmailCredentials(imap_password=password, smtp_password=smtp_password)
