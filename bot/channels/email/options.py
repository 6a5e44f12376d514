"""The e-mail channel's section of config.yml (``channels.email``); its passwords: the environment."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.channels.base import ChannelOptions

ADDRESS_PATTERN = r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[^@\s<>\"']{1,63}$"
HOST_PATTERN = r"^[A-Za-z0-9.\-:\[\]]{1,253}$"


class ImapSettings(BaseModel):
    """Where the shop's mailbox is read: e.g. imap.yandex.ru, imap.mail.ru, imap.gmail.com (port 993)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(default=None, pattern=HOST_PATTERN, description="None: the channel stays off")
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["ssl", "plain"] = Field(
        default="ssl", description="ssl: TLS from the first byte (993); plain: only to this machine (tests)"
    )
    username: str | None = Field(default=None, max_length=320, description="Default: the channel's address")
    mailbox: str = Field(default="INBOX", min_length=1, max_length=200, pattern=r"^[^\"\\\r\n]+$")


class SmtpSettings(BaseModel):
    """Where the answers are sent: e.g. smtp.yandex.ru, smtp.mail.ru, smtp.gmail.com (465 or 587)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(
        default=None, pattern=HOST_PATTERN, description="Default: the IMAP host's smtp twin"
    )
    port: int = Field(default=465, ge=1, le=65535)
    security: Literal["ssl", "starttls", "plain"] = Field(
        default="ssl", description="ssl: port 465; starttls: port 587; plain: only to this machine (tests)"
    )
    username: str | None = Field(default=None, max_length=320, description="Default: the IMAP username")


class EmailChannelSettings(ChannelOptions):
    """The e-mail channel (docs/channels/email.md). It runs when ``address``, ``imap.host`` and
    ``EMAIL_IMAP_PASSWORD`` are set; SMTP takes ``EMAIL_SMTP_PASSWORD`` (default: the IMAP one)."""

    enabled: bool = Field(default=True, description="False: ignore EMAIL_IMAP_PASSWORD")
    address: str | None = Field(default=None, description="The shop's address customers write to")
    from_name: str | None = Field(
        default=None, max_length=100, description="The name in From: of bot answers; default: bot.name"
    )
    imap: ImapSettings = Field(default_factory=ImapSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    receive: bool = Field(
        default=True, description="False: this process only sends (one process should read the mailbox)"
    )
    idle: bool = Field(default=True, description="Use IMAP IDLE where the server supports it, else poll")
    poll_seconds: float = Field(default=60, ge=1, le=3600, description="How often to look without IDLE")
    idle_seconds: float = Field(
        default=300, ge=10, le=1740, description="An IDLE is renewed after this (servers drop it at 30 min)"
    )
    timeout_seconds: float = Field(default=30, gt=0, le=300, description="For one IMAP or SMTP step")
    max_message_bytes: int = Field(
        default=10_000_000,
        ge=10_000,
        le=100_000_000,
        description="Larger mail is not read (a note is logged)",
    )
    max_text_chars: int = Field(default=4000, ge=100, le=4096, description="The text handed to the bot")
    per_sender_per_hour: int = Field(
        default=20, ge=1, le=1000, description="Mail from one address answered per hour; more is not read"
    )
    subject: str | None = Field(
        default=None, max_length=200, description="Subject of a message outside a thread; default: bot.name"
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not re.match(ADDRESS_PATTERN, value):
            raise ValueError("must be an e-mail address such as shop@example.com")
        return value

    @property
    def imap_username(self) -> str:
        return self.imap.username or self.address or ""

    @property
    def smtp_username(self) -> str:
        return self.smtp.username or self.imap_username

    @property
    def smtp_host(self) -> str | None:
        """``smtp.host``, or the IMAP host's twin: imap.yandex.ru -> smtp.yandex.ru."""
        if self.smtp.host:
            return self.smtp.host
        host = self.imap.host
        if host and host.startswith("imap."):
            return "smtp." + host[len("imap.") :]
        return host
