"""Sending botdesk's messages by SMTP into the customer's thread, and remembering what was sent.

The mail goes through ``bot.mailer.SmtpMailer`` (aiosmtplib, one connection per mail)
with the channel's own server and login. Before it leaves, its Message-ID is kept with
the conversation (``bot.store.email_threads``): the customer's reply to it continues the
conversation, and our own mail coming back (a bounce quoting it, a forward to ourselves)
is known as ours. A server that does not take the mail now is ``ChannelUnavailable``:
the message stays stored and the operator service sends it again later; a server that
refuses the recipient for good (5xx) marks the customer unreachable in this channel
instead, with no retry storm.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from bot.channels.base import ChannelContext, ChannelUnavailable
from bot.channels.email.compose import Thread, compose
from bot.channels.email.files import mail_files
from bot.channels.email.options import EmailChannelSettings
from bot.channels.email.threads import header_key, new_message_id
from bot.files import FileError
from bot.mailer import MailError, SmtpMailer
from bot.messages import OutboundMessage
from bot.settings import EmailSettings
from bot.store import set_reachable
from bot.store.email_threads import remember_header, reply_context

log = logging.getLogger("botdesk.channels.email")
CHANNEL = "email"


class Unreachable(Exception):
    """The customer's server refused the address for good: nobody to retry for."""


class Postman:
    """Sends one mail per call (a turn's replies, or one later message) into the customer's thread."""

    def __init__(self, settings: EmailChannelSettings, password: str, context: ChannelContext) -> None:
        assert settings.address is not None
        self.settings = settings
        self.context = context
        self.address = settings.address
        self.domain = settings.address.rpartition("@")[2]
        config = context.config
        self.bot_name = settings.from_name or config.bot.name
        self.default_subject = settings.subject or config.bot.name
        self.language = config.language
        smtp = settings.smtp
        self.mailer = SmtpMailer(
            EmailSettings(
                host=settings.smtp_host,
                port=smtp.port,
                sender=settings.address,
                starttls=smtp.security == "starttls",
                use_tls=smtp.security == "ssl",
                timeout_seconds=settings.timeout_seconds,
            ),
            username=settings.smtp_username,
            password=password,
        )

    async def send(
        self,
        messages: Sequence[OutboundMessage],
        thread: Thread | None = None,
        *,
        now: datetime | None = None,
    ) -> str:
        """Send ``messages`` (one conversation's, one kind of sender) as one mail; its Message-ID.

        ``thread``: the mail to answer; default: the customer's latest mail in the conversation.

        Raises:
            ChannelUnavailable: the server did not take it now (try again later).
            Unreachable: the customer's address is refused for good (marked unreachable).
        """
        first = messages[0]
        conversation_id = first.conversation_id
        if thread is None:
            thread = await self._thread_of(conversation_id)
        message_id = new_message_id(self.domain)
        operator = first.sender == "operator"
        try:
            files = await mail_files(self.context.files, messages)
        except FileError as exc:
            raise ChannelUnavailable(
                f"the files of the message cannot be read now ({type(exc).__name__})"
            ) from None
        mail = compose(
            messages,
            to=first.recipient_id,
            sender=self.address,
            sender_name=first.sender_name if operator else self.bot_name,
            thread=thread,
            message_id=message_id,
            default_subject=self.default_subject,
            language=self.language,
            now=now or self.context.clock(),
            attachments=files,
        )
        # Kept before it leaves: a reply (or our own mail coming back) may arrive at once.
        async with self.context.database.session() as session:
            await remember_header(
                session,
                conversation_id=conversation_id,
                header_id=header_key(message_id),
                outbound=True,
                subject=str(mail["Subject"]),
                message_id=first.message_id,
                now=self.context.clock(),
            )
            await session.commit()
        try:
            await self.mailer.send(mail)
        except MailError as exc:
            if exc.permanent:
                await self._unreachable(first.recipient_id)
                raise Unreachable(str(exc)) from None
            raise ChannelUnavailable(f"the SMTP server did not take the mail: {exc}") from None
        log.info(
            "mail sent in conversation %s (%d message%s, %s)",
            conversation_id,
            len(messages),
            "" if len(messages) == 1 else "s",
            "operator" if operator else "automatic",
        )
        return message_id

    async def _thread_of(self, conversation_id: int) -> Thread:
        async with self.context.database.reader() as session:
            found = await reply_context(session, conversation_id)
        if found is None:
            return Thread(None, [], None)
        return Thread(found.in_reply_to, found.references, found.subject)

    async def _unreachable(self, address: str) -> None:
        log.warning("the customer's mail server refuses their address: marked unreachable, not retried")
        async with self.context.database.session() as session:
            await set_reachable(session, CHANNEL, address, False)
            await session.commit()
