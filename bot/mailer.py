"""Outgoing email over SMTP (aiosmtplib): the one seam between botdesk and a mail server.

Host, port and TLS come from config.yml's ``email:`` section; the login only from the
environment (``BOTDESK_SMTP_USERNAME`` / ``BOTDESK_SMTP_PASSWORD``), never from a file.
The e-mail channel sends its answers through the same class with its own server and
login (``channels.email.smtp``, ``EMAIL_SMTP_PASSWORD``). A refusal that will not change
on retry (the recipient does not exist: 5xx) is a ``MailError`` with ``permanent`` set;
the log names the server and the SMTP code only, never an address (the server's reply
quotes the recipient). Tests point ``email.host`` at a local aiosmtpd server.
"""

from __future__ import annotations

import logging
import os
from email.message import EmailMessage
from typing import Protocol

from bot.errors import BotdeskError
from bot.settings import EmailSettings

USERNAME_ENV = "BOTDESK_SMTP_USERNAME"
PASSWORD_ENV = "BOTDESK_SMTP_PASSWORD"
log = logging.getLogger("botdesk.mailer")


class MailError(BotdeskError):
    """The mail server did not take a message (unreachable, refused, timed out).

    Args:
        message: one sentence, without addresses.
        permanent: the server refused for good (an unknown recipient, a message it will
            never take: a 5xx to RCPT or DATA); retrying would only repeat the refusal.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand one message to the mail server; raise ``MailError`` when it does not take it."""
        ...


class SmtpMailer:
    """Sends through the SMTP server of ``email:``; one connection per message (transcripts are rare)."""

    def __init__(
        self, settings: EmailSettings, *, username: str | None = None, password: str | None = None
    ) -> None:
        """``username``/``password``: this login instead of BOTDESK_SMTP_USERNAME/_PASSWORD's."""
        if settings.host is None or settings.sender is None:
            raise ValueError("email.host and email.sender must be set to send mail")
        self.settings = settings
        self.sender = settings.sender
        self.username = username or os.environ.get(USERNAME_ENV) or None
        self.password = password or os.environ.get(PASSWORD_ENV) or None

    async def send(self, message: EmailMessage) -> None:
        import aiosmtplib  # imported when mail is sent: servers without email do not pay for it

        settings = self.settings
        if "From" not in message:
            message["From"] = self.sender
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=self.username,
                password=self.password,
                start_tls=settings.starttls,
                use_tls=settings.use_tls,
                timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            code = _code(exc)
            permanent = _permanent(exc)
            log.warning(
                "mail to the SMTP server %s:%s failed: %s%s",
                settings.host,
                settings.port,
                type(exc).__name__,
                f" (SMTP {code})" if code else "",
            )
            raise MailError(
                f"the mail server did not take the message ({type(exc).__name__}"
                f"{f', SMTP {code}' if code else ''})",
                permanent=permanent,
            ) from exc


def _code(exc: Exception) -> int | None:
    """The SMTP reply code of a refusal (the first recipient's when several were refused)."""
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return exc.recipients[0].code
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) and code > 0 else None


def _permanent(exc: Exception) -> bool:
    """A 5xx to the recipients or the data: the same message would be refused again."""
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return 500 <= exc.code < 600
    return False


def mailer_from_config(settings: EmailSettings) -> SmtpMailer | None:
    """The configured mailer, or None when ``email.host`` is not set (email is off)."""
    return SmtpMailer(settings) if settings.host is not None else None
