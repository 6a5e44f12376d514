"""Outgoing email over SMTP (aiosmtplib): the one seam between botdesk and a mail server.

Host, port and TLS come from config.yml's ``email:`` section; the login only from the
environment (``BOTDESK_SMTP_USERNAME`` / ``BOTDESK_SMTP_PASSWORD``), never from a file.
Tests point ``email.host`` at a local aiosmtpd server.
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
    """The mail server did not take a message (unreachable, refused, timed out)."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand one message to the mail server; raise ``MailError`` when it does not take it."""
        ...


class SmtpMailer:
    """Sends through the SMTP server of ``email:``; one connection per message (transcripts are rare)."""

    def __init__(self, settings: EmailSettings) -> None:
        if settings.host is None or settings.sender is None:
            raise ValueError("email.host and email.sender must be set to send mail")
        self.settings = settings
        self.sender = settings.sender
        self.username = os.environ.get(USERNAME_ENV) or None
        self.password = os.environ.get(PASSWORD_ENV) or None

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
            log.warning("mail to the SMTP server %s:%s failed: %s", settings.host, settings.port, exc)
            raise MailError(f"the mail server did not take the message ({type(exc).__name__})") from exc


def mailer_from_config(settings: EmailSettings) -> SmtpMailer | None:
    """The configured mailer, or None when ``email.host`` is not set (email is off)."""
    return SmtpMailer(settings) if settings.host is not None else None
