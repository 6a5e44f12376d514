"""The e-mail channel as a botdesk channel: the mailbox read by IMAP, answers sent by SMTP.

It runs when config.yml's ``channels.email`` names the shop's ``address`` and
``imap.host`` and ``EMAIL_IMAP_PASSWORD`` is set (docs/channels/email.md). Reading is
``MailboxReader``'s (``imap``), each mail ``MailHandler``'s (``inbound``), sending
``Postman``'s (``outbound``). ``send`` is how operators' replies and the system's
messages ("Анна подключилась к чату") reach the customer: by SMTP, into their thread.
With ``receive: false`` a process only sends: behind a load balancer one process reads
the mailbox and every process can send.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from bot.channels.base import Capabilities, Channel, ChannelContext, ChannelOptions, ChannelUnavailable
from bot.channels.email.env import email_credentials
from bot.channels.email.imap import MailboxReader
from bot.channels.email.inbound import MailHandler
from bot.channels.email.options import EmailChannelSettings
from bot.channels.email.outbound import CHANNEL, Postman, Unreachable
from bot.channels.registry import register_channel
from bot.errors import ConfigError
from bot.messages import OutboundMessage
from bot.settings import BotdeskConfig

log = logging.getLogger("botdesk.channels.email")
PROTOCOL_LOGGERS = ("imapclient", "aiosmtplib", "mail.log")  # "imapclient.imaplib" inherits the cap


@register_channel
class EmailChannel(Channel):
    """Customers who write to the shop's mailbox (see the module docstring)."""

    name = CHANNEL
    Options = EmailChannelSettings
    capabilities: ClassVar[Capabilities] = Capabilities(push=True, buttons=False, files=True, typing=False)

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        super().__init__(options, config)
        assert isinstance(options, EmailChannelSettings)
        self.settings = options
        self.postman: Postman | None = None
        self.reader: MailboxReader | None = None
        self.handler: MailHandler | None = None

    async def start(self, context: ChannelContext) -> bool:
        """Start when the mailbox is configured and its password set; False (off) otherwise."""
        credentials = email_credentials(self.settings)
        if credentials is None:
            return False
        if self.settings.smtp_host is None:
            raise ConfigError("channels.email.smtp.host is required (the server that sends the answers)")
        _keep_protocol_out_of_logs()
        self.postman = Postman(self.settings, credentials.smtp_password, context)
        if self.settings.receive:
            self.handler = MailHandler(self.settings, context, self.postman)
            self.reader = MailboxReader(self.settings, credentials.imap_password, self.handler)
            self.reader.start()
        await super().start(context)
        log.info(
            "e-mail channel started (%s)", "reading and sending" if self.settings.receive else "sending only"
        )
        return True

    async def stop(self) -> None:
        """The mail in hand is finished, then the reader logs out."""
        if self.reader is not None:
            await self.reader.stop()
            self.reader = None
        self.postman = None
        await super().stop()

    async def send(self, message: OutboundMessage) -> None:
        """One message (an operator's reply, a system message) by SMTP into the customer's thread."""
        if self.postman is None:
            raise ChannelUnavailable("the e-mail channel is not running")
        if "@" not in message.recipient_id:
            log.error("message %s has no address to go to", message.message_id)
            return
        try:
            await self.postman.send([message])
        except Unreachable:
            return  # marked unreachable; the message stays stored, never retried


def _keep_protocol_out_of_logs() -> None:
    """The IMAP and SMTP libraries log whole protocol lines at DEBUG: addresses and mail text.

    Capped at WARNING unless a level was set for them (as ``bot.privacy`` does for the
    database drivers), so a debug log of botdesk never holds a customer's mail.
    """
    for name in PROTOCOL_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
