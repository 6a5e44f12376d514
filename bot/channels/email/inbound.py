"""One fetched mail, from the mailbox to the bot's answer in the customer's thread.

In order, each step answering "handle this?" before anything is written:

1. over the size limit: not read (a note in the log), marked read;
2. parsed; our own mail (our address, a Message-ID we sent), auto-replies, bounces,
   mailing lists and receipts are never answered (``autoreply``);
3. one sender over ``per_sender_per_hour``: not answered (a loop the headers did not show);
4. stored already (a restart, another reader): nothing to do;
5. which conversation: a reply to a mail of one of the sender's conversations continues
   it; a new thread while the bot alone holds the sender's open conversation closes that
   one, so the new thread gets a conversation of its own (a conversation a person holds
   keeps every mail of the customer: the operator must see it);
6. handed to the conversation service; the Message-ID kept with the conversation; the
   bot's replies sent as one mail answering this one.

The customer is their From address (lower case): the channel's own identity. A From
address can be forged, so it is never a verified contact: it is recorded on the customer
unverified, which may only *suggest* to operators that a customer of another channel is
the same person, never merge them.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import ChannelContext
from bot.channels.email.autoreply import automatic_reason
from bot.channels.email.compose import Thread
from bot.channels.email.files import keep_files
from bot.channels.email.imap import Fetched, Outcome
from bot.channels.email.options import EmailChannelSettings
from bot.channels.email.outbound import CHANNEL, Postman, Unreachable
from bot.channels.email.parse import ParsedMail, parse_headers, parse_mail, sender_of
from bot.channels.email.threads import looks_like_ours
from bot.conversation.accounting import TurnRefused
from bot.messages import InboundMessage, OutboundMessage
from bot.store import remember_contact
from bot.store.customers import customer_of
from bot.store.email_threads import (
    close_bot_conversation,
    inbound_stored,
    latest_customer_message,
    open_conversation,
    remember_header,
    sent_by_us,
    thread_conversation,
)
from bot.store.errors import StoreError
from bot.store.models import ConversationState

log = logging.getLogger("botdesk.channels.email")
REMEMBERED_SENDERS = 10_000
HOUR = timedelta(hours=1)


class SenderRate:
    """At most ``per_hour`` mails of one sender handled in any hour (a loop stopper, kept in memory)."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, sender: str, now: datetime) -> bool:
        times = self._seen.pop(sender, None) or deque()
        while times and now - times[0] >= HOUR:
            times.popleft()
        allowed = len(times) < self.per_hour
        if allowed:
            times.append(now)
        self._seen[sender] = times  # most recent last: the oldest senders are forgotten first
        while len(self._seen) > REMEMBERED_SENDERS:
            self._seen.pop(next(iter(self._seen)))
        return allowed


class MailHandler:
    """Handles each fetched mail for ``MailboxReader`` (see the module docstring)."""

    def __init__(self, settings: EmailChannelSettings, context: ChannelContext, postman: Postman) -> None:
        assert settings.address is not None
        self.settings = settings
        self.context = context
        self.postman = postman
        self.own = {settings.address, settings.imap_username.lower(), settings.smtp_username.lower()}
        self.domain = settings.address.rpartition("@")[2]
        self.rate = SenderRate(settings.per_sender_per_hour)

    async def __call__(self, fetched: Fetched) -> Outcome:
        """Handle one mail: DONE (mark it read) or RETRY (the store is down: leave it unread)."""
        try:
            return await self._handle(fetched)
        except (SQLAlchemyError, StoreError) as exc:
            log.warning(
                "mail %s not handled now (%s); it stays unread and is tried again",
                fetched.uid,
                type(exc).__name__,
            )
            return Outcome.RETRY
        except Exception as exc:  # a bug: the mail must not be tried forever, nor its text logged
            log.error(
                "mail %s could not be handled (%s at %s); marked read, not answered",
                fetched.uid,
                type(exc).__name__,
                _where(exc),
            )
            return Outcome.DONE

    async def _handle(self, fetched: Fetched) -> Outcome:
        if fetched.oversized:
            return self._oversized(fetched)
        parsed = parse_mail(
            fetched.raw,
            max_text_chars=self.settings.max_text_chars,
            max_attachment_bytes=self.settings.max_message_bytes,
        )
        reason = await self._not_to_answer(parsed)
        if reason is not None:
            log.info("mail %s not answered: %s", fetched.uid, reason)
            return Outcome.DONE
        assert parsed.sender is not None
        sender = parsed.sender
        async with self.context.database.reader() as session:
            if await inbound_stored(session, CHANNEL, sender, parsed.key):
                log.info("mail %s was handled before: skipped", fetched.uid)
                return Outcome.DONE
        if not self.rate.allow(sender, self.context.clock()):
            log.warning(
                "mail %s not answered: its sender sent more than %d mails in an hour",
                fetched.uid,
                self.settings.per_sender_per_hour,
            )
            return Outcome.DONE
        new_thread = await self._route(parsed)
        return await self._hand_in(fetched, parsed, new_thread)

    def _oversized(self, fetched: Fetched) -> Outcome:
        headers = parse_headers(fetched.raw)
        sender, _ = sender_of(headers)
        reason = automatic_reason(headers, sender, self.own)
        log.warning(
            "mail %s not read: %d bytes, over channels.email.max_message_bytes (%d)%s",
            fetched.uid,
            fetched.size,
            self.settings.max_message_bytes,
            f"; it was automatic anyway ({reason})" if reason else "",
        )
        return Outcome.DONE

    async def _not_to_answer(self, parsed: ParsedMail) -> str | None:
        reason = automatic_reason(parsed.message, parsed.sender, self.own)
        if reason is not None:
            return reason
        if parsed.message_id is not None and looks_like_ours(parsed.message_id, self.domain):
            return "our own mail came back"
        async with self.context.database.reader() as session:
            if await sent_by_us(session, [parsed.key]):
                return "our own mail came back"
        if not parsed.text.strip() and not parsed.attachments:
            return "nothing in it (no text, no subject, no file)"
        return None

    async def _route(self, parsed: ParsedMail) -> bool:
        """Close the sender's bot-only conversation when this mail starts another thread.

        Returns:
            True when the mail starts a conversation of its own (none was open, or it was closed).
        """
        assert parsed.sender is not None
        async with self.context.database.session() as session:
            current = await open_conversation(session, CHANNEL, parsed.sender)
            if current is None:
                return True
            continued = await thread_conversation(session, CHANNEL, parsed.sender, parsed.thread)
            if continued == current.conversation_id:
                return False
            if current.state != ConversationState.BOT:
                return False  # a person holds the open one: every mail of the customer goes to them
            closed = await close_bot_conversation(session, current.conversation_id, self.context.clock())
            await session.commit()
        if closed:
            log.info("conversation %s closed: its customer started another thread", current.conversation_id)
        return closed

    async def _hand_in(self, fetched: Fetched, parsed: ParsedMail, new_thread: bool) -> Outcome:
        assert parsed.sender is not None
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=parsed.sender,
            text=parsed.text,
            message_id=parsed.key,
            attachments=tuple(await keep_files(self.context.files, parsed)),
            profile={"name": parsed.sender_name or parsed.sender, "email": parsed.sender},
        )
        try:
            handled = await self.context.conversations.handle_and_account(inbound)
        except TurnRefused as refused:
            if refused.retry:
                log.warning(
                    "mail %s not stored now (%s); it stays unread and is tried again",
                    fetched.uid,
                    refused.reason,
                )
                return Outcome.RETRY
            log.info("mail %s not answered: %s", fetched.uid, refused.reason)
            if refused.stored:  # kept; recovery answers it later, in this thread
                await self._link_files(inbound)
                await self._remember(parsed, None, new_thread)
            return Outcome.DONE
        await self._link_files(inbound)
        await self._remember(parsed, handled.conversation_id, new_thread)
        if handled.replies:
            await self._answer(fetched, parsed, handled.replies)
        return Outcome.DONE

    async def _link_files(self, inbound: InboundMessage) -> None:
        """The stored message's files belong to it from now on (its customer's, for operators)."""
        if self.context.files is not None:
            await self.context.files.link_inbound(inbound)

    async def _remember(self, parsed: ParsedMail, conversation_id: int | None, new_thread: bool) -> None:
        """Keep the mail's Message-ID with its conversation; a new customer's address, unverified."""
        assert parsed.sender is not None
        async with self.context.database.session() as session:
            if conversation_id is None:
                current = await open_conversation(session, CHANNEL, parsed.sender)
                if current is None:
                    return
                conversation_id = current.conversation_id
            await remember_header(
                session,
                conversation_id=conversation_id,
                header_id=parsed.key,
                reply_to=parsed.message_id,
                outbound=False,
                subject=parsed.subject,
                message_id=await latest_customer_message(session, conversation_id),
                now=self.context.clock(),
            )
            if new_thread:
                customer_id = await customer_of(session, CHANNEL, parsed.sender)
                if customer_id is not None:  # typed, never verified: suggestions only, no merge
                    await remember_contact(session, customer_id, email=parsed.sender, verified=False)
            await session.commit()

    async def _answer(self, fetched: Fetched, parsed: ParsedMail, replies: list[OutboundMessage]) -> None:
        """The turn's replies as one mail answering this one; parked for redelivery if SMTP is down."""
        thread = Thread(parsed.message_id, parsed.references, parsed.subject)
        try:
            await self.postman.send(replies, thread)
        except Unreachable:
            return
        except Exception as exc:  # the server is down or refused: each reply is redelivered later
            log.warning(
                "answer to mail %s not sent (%s); it will be sent again later",
                fetched.uid,
                type(exc).__name__,
            )
            for reply in replies:
                await self.context.park(reply)


def _where(exc: BaseException) -> str:
    """Where an error was raised (file:line), for the log: the exception's text may hold the mail's."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rpartition('/')[2]}:{last.lineno}"
