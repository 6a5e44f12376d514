"""The e-mail channel: the shop's mailbox read by IMAP, answers sent by SMTP (docs/channels/email.md).

``options``: ``channels.email`` in config.yml; ``env``: the passwords from the environment;
``imap``: ``MailboxReader``, new mail by IDLE or polling, each handled once; ``parse``,
``html_text``, ``quotes``: a mail as the text the NLU reads; ``autoreply``: what is never
answered; ``threads``: Message-ID threading; ``inbound``: ``MailHandler``, a mail to a turn;
``compose``/``outbound``: botdesk's messages as mail in the customer's thread, by SMTP;
``files``: attachments through the file store, both ways; ``channel``: ``EmailChannel``, the plugin.
"""

from bot.channels.email.autoreply import automatic_reason
from bot.channels.email.channel import EmailChannel
from bot.channels.email.compose import Thread, body_of, compose
from bot.channels.email.env import IMAP_PASSWORD_ENV, SMTP_PASSWORD_ENV, EmailCredentials, email_credentials
from bot.channels.email.html_text import html_to_text
from bot.channels.email.options import EmailChannelSettings, ImapSettings, SmtpSettings
from bot.channels.email.outbound import CHANNEL
from bot.channels.email.parse import Attachment, ParsedMail, parse_mail
from bot.channels.email.quotes import strip_reply

__all__ = [
    "CHANNEL",
    "IMAP_PASSWORD_ENV",
    "SMTP_PASSWORD_ENV",
    "Attachment",
    "EmailChannel",
    "EmailChannelSettings",
    "EmailCredentials",
    "ImapSettings",
    "ParsedMail",
    "SmtpSettings",
    "Thread",
    "automatic_reason",
    "body_of",
    "compose",
    "email_credentials",
    "html_to_text",
    "parse_mail",
    "strip_reply",
]
