"""The Telegram bot on python-telegram-bot's Application, in the server's event loop.

In: PTB's handlers answer "is this mine?" (``/start``, a message or its edit, a button
press, the bot blocked or unblocked) and hand botdesk an ``InboundMessage``; the
conversation service stores it first, then the bot's replies go back to the chat.
Out: ``send`` delivers operator and system messages (``TelegramChannel.send``). Flood
limits (429) are waited out and retried; a customer who blocked the bot (403) is marked
unreachable and the message stays stored, without retries; any other failure parks the
message (``ChannelContext.park``) and the operator service redelivers it.

Polling (default) asks Telegram for updates; webhook mode lets Telegram POST them to
``/webhooks/telegram`` (``process``), where an update that could not be stored is
answered with an error so that Telegram sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, ChatMember, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import ChannelContext
from bot.channels.telegram.files import keep_files, send_files
from bot.channels.telegram.inbound import CHANNEL, contact_phone, is_own_contact, profile_of, to_inbound
from bot.channels.telegram.options import TelegramSettings
from bot.channels.telegram.outbound import SHARE_CONTACT, KeyboardStyle, render
from bot.conversation import Handled
from bot.conversation.accounting import TurnRefused
from bot.errors import BotdeskError, ConfigError
from bot.messages import InboundMessage, OutboundMessage
from bot.store import remember_contact, set_reachable
from bot.store.customers import customer_of

log = logging.getLogger("botdesk.channels.telegram")
T = TypeVar("T")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
MAX_FLOOD_WAIT = 30.0  # a longer retry_after parks the message for redelivery instead of holding it
STORE_RETRIES = (0.5, 1, 2, 4, 8, 15, 30)  # polling: a store that is down gets about a minute
START_RETRY_SECONDS = 10.0
REMEMBERED_CHATS = 10_000
TYPING_LASTS = 4.0  # seconds: Telegram shows "typing…" for 5 s after a sendChatAction


class UpdateNotStored(BotdeskError):
    """A webhook update that could not be stored: Telegram must send it again."""


@dataclass(frozen=True)
class TelegramCredentials:
    """Where and how to reach the Bot API (from the environment; see ``bot.channels.telegram.env``)."""

    token: str
    base_url: str
    base_file_url: str
    webhook_secret: str


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int today, timedelta in PTB's next major version
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TokenRedactor(logging.Filter):
    """httpx logs every request URL, and Bot API URLs contain the token: never let it into a log."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<TELEGRAM_BOT_TOKEN>"), None
        return True


class TelegramBot:
    """Customers in Telegram: receives their updates, sends botdesk's messages to their chats."""

    def __init__(
        self,
        settings: TelegramSettings,
        options: TelegramCredentials,
        context: ChannelContext,
    ) -> None:
        self.settings = settings
        self.options = options
        self.context = context
        self.conversations = context.conversations
        self.db = context.database
        language = context.config.language
        self.style: KeyboardStyle = settings.keyboard
        self.share_contact = settings.share_contact_button or SHARE_CONTACT.get(language, SHARE_CONTACT["en"])
        self.webhook = settings.mode == "webhook"
        # Our own connection pools, so that they are closed even when the start fails.
        self._requests = (
            HTTPXRequest(connection_pool_size=16),
            HTTPXRequest(read_timeout=settings.poll_timeout_seconds + 10),
        )
        builder = (
            Application.builder()
            .token(options.token)
            .base_url(options.base_url)
            .base_file_url(options.base_file_url)
            .concurrent_updates(64)  # one customer's turns stay in order: the service locks per sender
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
        )
        if self.webhook:
            builder = builder.updater(None)  # Telegram POSTs updates to our route instead
        self.application = builder.build()
        self.application.add_handler(
            CommandHandler("start", self._on_start, filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE)
        )
        self.application.add_handler(
            MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES, self._on_message)
        )
        self.application.add_handler(CallbackQueryHandler(self._on_button))
        self.application.add_handler(ChatMemberHandler(self._on_member, ChatMemberHandler.MY_CHAT_MEMBER))
        self.application.add_error_handler(self._on_error)
        self._failed: set[int] = set()
        self._keyboards: OrderedDict[str, dict[str, str]] = OrderedDict()  # chat -> reply keyboard shown
        self._typing: OrderedDict[str, float] = OrderedDict()  # chat -> when "typing…" was last sent
        self._redactor = TokenRedactor(options.token)
        self._starting: asyncio.Task[None] | None = None
        self.started = False

    @property
    def bot(self) -> Bot:
        return self.application.bot

    # ---- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Start receiving; a bad token is a ConfigError, an unreachable API is retried in the background."""
        logging.getLogger("httpx").addFilter(self._redactor)
        try:
            await self._start_once()
        except InvalidToken:
            await self.stop()
            raise ConfigError(
                "Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): copy the token from @BotFather again"
            ) from None
        except TelegramError as exc:
            log.error(
                "Telegram is not reachable at start (%s); retrying every %g s", exc, START_RETRY_SECONDS
            )
            self._starting = asyncio.create_task(self._keep_starting(), name="botdesk-telegram-start")

    async def _start_once(self) -> None:
        if not self.application.running:
            await self.application.initialize()  # getMe: checks the token
            await self.application.start()
        if self.webhook:
            assert self.settings.webhook_url is not None
            await self._call(
                self.bot.set_webhook,
                url=self.settings.webhook_url,
                secret_token=self.options.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=self.settings.drop_pending_updates,
            )
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                timeout=timedelta(seconds=self.settings.poll_timeout_seconds),
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=self.settings.drop_pending_updates,
                error_callback=self._on_polling_error,
            )
        self.started = True
        log.info(
            "Telegram bot @%s connected (%s)",
            self.bot.username,
            f"webhook {self.settings.webhook_url}" if self.webhook else "long polling",
        )

    async def _keep_starting(self) -> None:
        while True:
            await asyncio.sleep(START_RETRY_SECONDS)
            try:
                await self._start_once()
            except InvalidToken:
                log.error("Telegram refused TELEGRAM_BOT_TOKEN: the Telegram channel stays off")
                return
            except TelegramError as exc:
                log.warning("Telegram still not reachable (%s)", exc)
            else:
                return

    async def stop(self) -> None:
        """Stop fetching, finish the updates in hand, close the connections (the webhook stays set)."""
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        updater = self.application.updater
        try:
            if updater is not None and updater.running:
                await updater.stop()
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
        except TelegramError as exc:
            log.warning("Telegram channel did not stop cleanly: %s", exc)
        finally:
            for request in self._requests:
                await request.shutdown()
            self.started = False
            logging.getLogger("httpx").removeFilter(self._redactor)

    def _on_polling_error(self, exc: TelegramError) -> None:
        log.warning("polling Telegram failed (%s); trying again", exc)

    # ---- webhook -------------------------------------------------------------------------
    async def process(self, data: dict[str, Any]) -> None:
        """Handle one update Telegram POSTed; UpdateNotStored when Telegram should send it again."""
        update = Update.de_json(data, self.bot)
        await self.application.process_update(update)
        if update.update_id in self._failed:
            self._failed.discard(update.update_id)
            raise UpdateNotStored(f"update {update.update_id} was not stored")

    # ---- inbound ---------------------------------------------------------------------------
    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: greet and introduce the bot, as a greeting would."""
        message = update.effective_message
        if message is None:
            return
        greet = "/greet" if "greet" in self.conversations.pipeline().intents else "/start"
        inbound = to_inbound(message, text=greet)
        if inbound is not None:
            await self._consume(update, inbound)

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        edited = update.edited_message is not None
        if edited and self.settings.edited_messages == "ignore":
            log.info("edited Telegram message %s ignored (channels.telegram.edited_messages)", message.id)
            return
        payload = None
        if message.text and not edited:  # a reply-keyboard button sends its title: take its payload
            payload = self._keyboards.get(str(message.chat_id), {}).get(message.text)
        inbound = to_inbound(message, edited=edited, text=payload)
        if inbound is None:
            return
        inbound = await keep_files(self.bot, self._call, self.context.files, inbound)  # into the file store
        phone = contact_phone(message.contact) if message.contact and is_own_contact(message) else None
        await self._consume(update, inbound, phone=phone)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A pressed inline button: stop the spinner, take the keyboard away, the payload goes in."""
        query = update.callback_query
        if query is None:
            return
        with contextlib.suppress(TelegramError):
            await self._call(query.answer)
        if query.message is not None and query.message.is_accessible:
            with contextlib.suppress(TelegramError):  # too old to edit, say: the press still counts
                await self._call(query.edit_message_reply_markup, reply_markup=None)
        if not query.data:
            return
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=str(query.from_user.id),
            text=query.data[:64],
            message_id=f"button:{query.id}",
            profile=profile_of(query.from_user),
        )
        await self._consume(update, inbound)

    async def _on_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The customer blocked (or unblocked) the bot: Telegram tells us before a send fails."""
        change = update.my_chat_member
        if change is None or change.chat.type != "private":
            return
        reachable = change.new_chat_member.status != ChatMember.BANNED
        async with self.db.session() as session:
            if await set_reachable(session, CHANNEL, str(change.chat.id), reachable):
                await session.commit()
        log.info("Telegram chat %s %s the bot", change.chat.id, "unblocked" if reachable else "blocked")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram update not handled: %r", context.error, exc_info=context.error)

    async def _consume(self, update: Update, inbound: InboundMessage, *, phone: str | None = None) -> None:
        try:
            handled = await self._handle(inbound)
        except TurnRefused as refused:
            if refused.retry:
                self._failed.add(update.update_id)  # webhook: answered with an error, sent again
            if refused.stored:
                await self._link_files(inbound)
            log.info("Telegram message from %s not answered: %s", inbound.sender_id, refused.detail)
            return
        except BaseException:
            self._failed.add(update.update_id)
            raise
        await self._link_files(inbound)
        if phone is not None:
            await self._remember_phone(inbound.sender_id, phone)
        for reply in handled.replies:
            await self.deliver(reply)

    async def _handle(self, inbound: InboundMessage) -> Handled:
        """Store and answer; polling retries a store that is down (nobody else would)."""
        delays = () if self.webhook else STORE_RETRIES
        for delay in delays:
            try:
                return await self.conversations.handle_and_account(inbound)
            except TurnRefused as refused:
                if not refused.retry:
                    raise
                log.warning("Telegram message from %s not stored yet; retrying", inbound.sender_id)
                await asyncio.sleep(delay)
        return await self.conversations.handle_and_account(inbound)

    async def _link_files(self, inbound: InboundMessage) -> None:
        """The stored message's files belong to it from now on (``bot.files``)."""
        if self.context.files is not None:
            await self.context.files.link_inbound(inbound)

    async def _remember_phone(self, sender_id: str, phone: str) -> None:
        """The customer's own number, verified by Telegram (a contact the user shared of themselves).

        Known from now on; the same verified number elsewhere is the same person (merged),
        a typed one only a suggestion for operators (``bot.store.customers.remember_contact``).
        """
        async with self.db.session() as session:
            customer_id = await customer_of(session, CHANNEL, sender_id)
            if customer_id is not None:
                await remember_contact(session, customer_id, phone=phone, verified=True)
                await session.commit()

    # ---- outbound --------------------------------------------------------------------------
    async def deliver(self, message: OutboundMessage) -> None:
        """Send a reply now, or park it for the operator service to redeliver."""
        await self.context.deliver(self.send, message)

    async def send(self, message: OutboundMessage) -> None:
        """OutputChannel: every part of the message to the customer's chat, labelled."""
        chat = message.recipient_id
        if not chat.lstrip("-").isdigit():
            log.error("message %s has no Telegram chat to go to (%r)", message.message_id, chat)
            return
        ask_contact = self.share_contact if message.response in self.settings.contact_responses else None
        parts = render(message, self.style, ask_contact=ask_contact, remove_keyboard=chat in self._keyboards)
        try:
            for part in parts if message.text.strip() or not message.files else ():
                await self._call(
                    self.bot.send_message, chat_id=int(chat), text=part.text, reply_markup=part.markup
                )
                self._keyboard_shown(chat, part.markup, message.buttons)
            if message.image:
                await self._call(self.bot.send_photo, chat_id=int(chat), photo=message.image)
            await send_files(self.bot, self._call, self.context.files, int(chat), message)
        except Forbidden as exc:  # blocked by the user, or the account is gone: nobody to retry for
            await self._unreachable(chat, message, exc)
        except BadRequest as exc:
            if "chat not found" not in str(exc).lower():
                raise
            await self._unreachable(chat, message, exc)

    async def show_typing(self, chat: str) -> None:
        """ "typing…" in the customer's chat (sendChatAction), at most once per ``TYPING_LASTS`` seconds.

        Telegram keeps it for five seconds or until the next message; a hint, so a failure
        (blocked, a flood limit) is only logged.
        """
        if not chat.lstrip("-").isdigit():
            return
        now = asyncio.get_running_loop().time()
        if now - self._typing.get(chat, float("-inf")) < TYPING_LASTS:
            return
        self._typing[chat] = now
        self._typing.move_to_end(chat)
        while len(self._typing) > REMEMBERED_CHATS:
            self._typing.popitem(last=False)
        try:
            await self.bot.send_chat_action(chat_id=int(chat), action=ChatAction.TYPING)
        except TelegramError as exc:
            log.debug("typing not shown in Telegram chat %s: %s", chat, exc)

    def _keyboard_shown(self, chat: str, markup: object, buttons: list[dict[str, Any]]) -> None:
        """Remember reply keyboards: to take them away later and to map a title back to its payload."""
        if isinstance(markup, ReplyKeyboardMarkup):
            titles = {str(b.get("title") or "").strip()[:100]: str(b.get("payload") or "") for b in buttons}
            self._keyboards[chat] = {t: p for t, p in titles.items() if t and p}
            self._keyboards.move_to_end(chat)
            while len(self._keyboards) > REMEMBERED_CHATS:
                self._keyboards.popitem(last=False)
        elif isinstance(markup, ReplyKeyboardRemove):
            self._keyboards.pop(chat, None)

    async def _unreachable(self, chat: str, message: OutboundMessage, exc: TelegramError) -> None:
        log.warning(
            "Telegram chat %s is unreachable (%s): message %s stays stored", chat, exc, message.message_id
        )
        async with self.db.session() as session:
            await set_reachable(session, CHANNEL, chat, False)
            await session.commit()

    async def _call(self, method: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        """One Bot API call; a flood limit (429) is waited out and the call repeated."""
        attempt = 0
        while True:
            try:
                return await method(**kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                attempt += 1
                if attempt > self.settings.flood_retries or wait > MAX_FLOOD_WAIT:
                    raise
                log.warning("Telegram flood limit: waiting %g s before trying again", wait)
                await asyncio.sleep(wait)

    # ---- files -----------------------------------------------------------------------------
    async def file_url(self, file_id: str) -> str:
        """Where to download a customer's file; the URL holds the token: never show it to anyone."""
        file = await self._call(self.bot.get_file, file_id=file_id)
        if not file.file_path:
            raise BadRequest("Telegram gave no path for the file")
        return file.file_path
