"""The WhatsApp Cloud API channel: the webhook (verification, signed calls), sending, files, the 24 h window.

It runs when ``WHATSAPP_TOKEN`` is set (docs/channels/whatsapp.md). Meta calls
``/webhooks/whatsapp``:

- ``GET`` once, when the webhook is set up: ``hub.mode=subscribe``, ``hub.verify_token``
  and ``hub.challenge``; the challenge is echoed when the verify token is ours, else 403.
- ``POST`` for every batch of customers' messages and of our messages' statuses. The body
  is bounded while it arrives (the server's guard, ``MAX_WEBHOOK_BYTES``), then its
  ``X-Hub-Signature-256`` is checked in constant time, and only then is it parsed. A
  message is answered 200 once it is stored (its id, the wamid, keeps a resent one from
  being stored twice); one that could not be stored gets 503 and Meta sends the batch
  again. The bot's replies go out in the background, in order per customer.

Out, ``send`` takes operator and system messages, ``deliver`` the bot's replies: both only
inside the customer-service window (``window``); outside it nothing is sent (WhatsApp
would refuse it) and an operator's reply is refused before it is stored
(``check_send``: the panel says why). Rate limits are waited out (``client``); an
undeliverable number (131026) marks the customer unreachable without retries; a platform
that cannot be reached parks the message for the operator service to deliver later.
Statuses (sent, delivered, read, failed) are counted for /metrics and logged without the
customer's number; a failure for the window (131047) closes it here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections import Counter, OrderedDict
from typing import ClassVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from bot.channels.base import (
    Capabilities,
    Channel,
    ChannelContext,
    ChannelHttp,
    ChannelOptions,
    ChannelUnavailable,
    DeliveryRefused,
    FileGone,
)
from bot.channels.registry import register_channel
from bot.channels.whatsapp.client import GraphClient, GraphError
from bot.channels.whatsapp.env import WhatsAppCredentials, whatsapp_credentials
from bot.channels.whatsapp.inbound import CHANNEL, WA_ID, StatusUpdate, parse_webhook
from bot.channels.whatsapp.options import WhatsAppSettings
from bot.channels.whatsapp.outbound import LIST_BUTTON, render
from bot.channels.whatsapp.signature import SIGNATURE_HEADER, signature_ok
from bot.channels.whatsapp.window import WINDOW_HOURS, ServiceWindows
from bot.conversation.accounting import TurnRefused
from bot.errors import ConfigError
from bot.json_input import JsonInputError, parse_json_input
from bot.messages import InboundMessage, OutboundMessage
from bot.settings import BotdeskConfig
from bot.store import remember_contact, set_reachable
from bot.store.customers import customer_of
from bot.store.errors import NO_DATABASE

log = logging.getLogger("botdesk.channels.whatsapp")
WEBHOOK_PATH = "/webhooks/whatsapp"
MAX_WEBHOOK_BYTES = 3 * 1024 * 1024  # Meta's largest webhook payload
CHALLENGE = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
STOP_SECONDS = 10.0
REMEMBERED_PHONES = 10_000


def masked(wa_id: str) -> str:
    """A customer's number as logs may show it: the last four digits."""
    return "…" + wa_id[-4:]


@register_channel
class WhatsAppChannel(Channel):
    """Customers in WhatsApp, through Meta's Cloud API (see the module docstring)."""

    name = CHANNEL
    Options = WhatsAppSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        push=True, buttons=True, files=True, typing=False, max_text_chars=4096
    )

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        super().__init__(options, config)
        assert isinstance(options, WhatsAppSettings)
        self.settings = options
        self.list_button = options.list_button or LIST_BUTTON.get(config.language, LIST_BUTTON["en"])
        self.credentials: WhatsAppCredentials | None = None
        self.client: GraphClient | None = None
        self.windows: ServiceWindows | None = None
        self.events: Counter[str] = Counter()
        self._queues: dict[str, asyncio.Task[None]] = {}  # per customer: the replies going out, in order
        self._phones: OrderedDict[str, None] = OrderedDict()  # customers whose number is remembered

    # ---- life cycle ----------------------------------------------------------------------
    async def start(self, context: ChannelContext) -> bool:
        """Connect when ``WHATSAPP_TOKEN`` is set; a token or number Meta refuses is a ConfigError."""
        credentials = whatsapp_credentials(self.settings)
        if credentials is None:
            return False
        client = GraphClient(
            credentials,
            context.transport,
            rate_limit_retries=self.settings.rate_limit_retries,
            rate_limit_wait=self.settings.rate_limit_wait_seconds,
        )
        try:
            number = await client.check_number()
        except GraphError as exc:
            if exc.unauthorized or exc.not_found:
                await client.aclose()
                raise ConfigError(
                    "Meta refused WHATSAPP_TOKEN or the phone number id "
                    f"({exc.title}): see docs/channels/whatsapp.md"
                ) from None
            log.error("WhatsApp is not reachable at start (%s); messages wait until it is", exc)
        else:
            log.info("WhatsApp number %s connected", str(number.get("verified_name") or number.get("id")))
        self.credentials, self.client = credentials, client
        self.windows = ServiceWindows(context.database, context.clock, CHANNEL)
        await super().start(context)
        return True

    async def stop(self) -> None:
        """The replies going out are finished first (for a while), then the connections closed."""
        pending = list(self._queues.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=STOP_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        await super().stop()

    def counters(self) -> dict[str, int]:
        return dict(self.events)

    # ---- the webhook ---------------------------------------------------------------------
    def http(self) -> ChannelHttp:
        router = APIRouter(tags=["whatsapp channel"])
        router.add_api_route(
            WEBHOOK_PATH,
            self.verify,
            methods=["GET"],
            summary="Meta's webhook verification: the challenge echoed for the right verify token",
            include_in_schema=False,
        )
        router.add_api_route(
            WEBHOOK_PATH,
            self.webhook,
            methods=["POST"],
            summary="WhatsApp's webhook: messages and statuses, signed with the app secret",
            include_in_schema=False,
        )
        return ChannelHttp(
            router, body_limits={WEBHOOK_PATH: MAX_WEBHOOK_BYTES}, own_json=frozenset({WEBHOOK_PATH})
        )

    def _running(self) -> tuple[WhatsAppCredentials, ChannelContext]:
        if self.credentials is None or self.context is None:
            raise HTTPException(404, "the WhatsApp channel is not connected (no WHATSAPP_TOKEN)")
        return self.credentials, self.context

    async def verify(self, request: Request) -> PlainTextResponse:
        credentials, _ = self._running()
        params = request.query_params
        mode, token = params.get("hub.mode", ""), params.get("hub.verify_token", "")
        challenge = params.get("hub.challenge", "")
        right = hmac.compare_digest(token.encode(), credentials.verify_token.encode())
        if mode != "subscribe" or not right:
            log.warning("WhatsApp webhook verification with a wrong verify token or mode refused")
            raise HTTPException(403, "wrong hub.verify_token or hub.mode")
        if not CHALLENGE.match(challenge):
            raise HTTPException(400, "hub.challenge is missing or not a plain token")
        log.info("WhatsApp webhook verified by Meta")
        return PlainTextResponse(challenge, headers={"X-Content-Type-Options": "nosniff"})

    async def webhook(self, request: Request) -> dict[str, bool]:
        credentials, context = self._running()
        body = await request.body()  # bounded by the server's guard while it arrived
        if len(body) > MAX_WEBHOOK_BYTES:
            raise HTTPException(413, f"a webhook call is at most {MAX_WEBHOOK_BYTES} bytes")
        if not signature_ok(body, request.headers.get(SIGNATURE_HEADER), credentials.app_secret):
            self.events["webhook_bad_signature"] += 1
            log.warning("WhatsApp webhook call with a wrong or missing %s refused", SIGNATURE_HEADER)
            raise HTTPException(403, f"wrong or missing {SIGNATURE_HEADER}")
        if not context.ready():
            raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"})
        try:
            data = parse_json_input(body)
        except JsonInputError:
            self.events["webhook_bad_json"] += 1
            raise HTTPException(400, "the body must be a WhatsApp webhook payload as JSON") from None
        batch = parse_webhook(data, credentials.phone_number_id)
        if batch.skipped:
            self.events["webhook_skipped"] += batch.skipped
            log.info("WhatsApp webhook: %d item(s) of no known shape skipped", batch.skipped)
        for status in batch.statuses:
            await self._on_status(status)
        unstored = 0
        for inbound in batch.messages:
            if not await self._receive(inbound):
                unstored += 1
        if unstored:
            raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"})
        return {"ok": True}

    # ---- in ------------------------------------------------------------------------------
    async def _receive(self, inbound: InboundMessage) -> bool:
        """Store and answer one message; False when it could not be stored (Meta sends it again)."""
        context = self.require_context()
        try:
            handled = await context.conversations.handle_and_account(inbound)
        except TurnRefused as refused:
            log.info("WhatsApp message from %s not answered: %s", masked(inbound.sender_id), refused.detail)
            return not refused.retry
        self.events["messages_in"] += 1
        if handled.duplicate:
            self.events["messages_duplicate"] += 1
            return True
        await self._remember_phone(inbound.sender_id)
        if handled.replies:
            self._queue(inbound.sender_id, handled.replies)
        return True

    async def _remember_phone(self, wa_id: str) -> None:
        """The customer's own number, verified by WhatsApp (they write from it): merges their channels.

        Once per customer and process; a verified number elsewhere is the same person
        (``bot.store.customers.remember_contact``).
        """
        if not self.settings.remember_phone or wa_id in self._phones:
            return
        db = self.require_context().database
        async with db.session() as session:
            customer_id = await customer_of(session, CHANNEL, wa_id)
            if customer_id is not None:
                await remember_contact(session, customer_id, phone=f"+{wa_id}", verified=True)
                await session.commit()
        self._phones[wa_id] = None
        while len(self._phones) > REMEMBERED_PHONES:
            self._phones.popitem(last=False)

    async def _on_status(self, status: StatusUpdate) -> None:
        """A status of a message we sent: counted, logged without the number; failures acted on."""
        self.events[f"status_{status.status}"] += 1
        if status.status != "failed":
            log.debug("WhatsApp message %s: %s", status.message_id, status.status)
            return
        log.warning(
            "WhatsApp did not deliver message %s to %s: error %s (%s)",
            status.message_id,
            masked(status.recipient_id),
            status.error_code,
            status.error_title,
        )
        if status.error_code == 131047 and self.windows is not None:
            self.events["failed_window_closed"] += 1
            self.windows.closed(status.recipient_id)
        elif status.error_code == 131026:
            self.events["failed_undeliverable"] += 1
            await self._unreachable(status.recipient_id)

    # ---- out -----------------------------------------------------------------------------
    def _queue(self, recipient: str, replies: list[OutboundMessage]) -> None:
        """Send the bot's replies in the background, after what is already going to this customer."""
        before = self._queues.get(recipient)
        task = asyncio.create_task(self._deliver_after(before, replies), name="botdesk-whatsapp-send")
        self._queues[recipient] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._queues.get(recipient) is finished:
                del self._queues[recipient]

        task.add_done_callback(done)

    async def _deliver_after(self, before: asyncio.Task[None] | None, replies: list[OutboundMessage]) -> None:
        if before is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(before)
        for reply in replies:
            await self.deliver(reply)

    async def deliver(self, message: OutboundMessage) -> None:
        """Send a reply now, or park it for the operator service to redeliver (if worth a retry)."""
        await self.require_context().deliver(self.send, message, retried=ChannelUnavailable)

    async def check_send(self, message: OutboundMessage) -> None:
        """Refuse a message outside the 24-hour window (before the operator service stores it)."""
        windows, to = self.windows, message.recipient_id
        if windows is not None and WA_ID.match(to) and not await windows.is_open(to):
            self.events["refused_window_closed"] += 1
            raise DeliveryRefused(
                "window_closed",
                f"the customer last wrote more than {WINDOW_HOURS} hours ago; "
                "WhatsApp takes only approved templates now",
                window_hours=WINDOW_HOURS,
            )

    async def send(self, message: OutboundMessage) -> None:
        """Every part of the message to the customer, labelled; ``ChannelUnavailable``: try again later."""
        client, windows = self.client, self.windows
        if client is None or windows is None:
            raise ChannelUnavailable("the WhatsApp channel is not connected")
        to = message.recipient_id
        if not WA_ID.match(to):
            log.error("message %s has no WhatsApp number to go to", message.message_id)
            return
        if not await windows.is_open(to):
            self.events["not_sent_window_closed"] += 1
            log.warning(
                "WhatsApp message %s not sent: %s last wrote over %d hours ago (only templates now)",
                message.message_id,
                masked(to),
                WINDOW_HOURS,
            )
            return
        try:
            for payload in render(message, self.list_button):
                await client.send(to, payload)
                self.events["messages_out"] += 1
            if message.image:
                await self._send_picture(client, to, message.image)
        except GraphError as exc:
            await self._failed(to, message, exc)

    async def _send_picture(self, client: GraphClient, to: str, url: str) -> None:
        """A response's picture: an https link WhatsApp fetches itself, else fetched here and uploaded."""
        if url.startswith("https://"):
            await client.send(to, {"type": "image", "image": {"link": url}})
        else:
            try:
                content, mime = await client.fetch(url, self.settings.max_media_bytes)
            except GraphError as exc:  # the text went out; the picture is the response's problem
                self.events["media_failed"] += 1
                log.warning("a response's picture was not sent: %s", exc)
                return
            extension = "png" if mime == "image/png" else "jpg"
            media_id = await client.upload(content, mime, f"picture.{extension}")
            await client.send(to, {"type": "image", "image": {"id": media_id}})
        self.events["media_out"] += 1

    async def _failed(self, to: str, message: OutboundMessage, exc: GraphError) -> None:
        """What a refused send means: unreachable, window closed, later, or never for this message."""
        if exc.undeliverable:
            self.events["failed_undeliverable"] += 1
            await self._unreachable(to)
            log.warning(
                "WhatsApp number %s is unreachable (%s): message %s stays stored",
                masked(to),
                exc,
                message.message_id,
            )
        elif exc.window_closed:
            self.events["failed_window_closed"] += 1
            if self.windows is not None:
                self.windows.closed(to)
            log.warning("WhatsApp refused message %s: the 24-hour window is closed", message.message_id)
        elif exc.temporary:
            self.events["send_retried_later"] += 1
            raise ChannelUnavailable(str(exc)) from None
        else:
            self.events["send_failed"] += 1
            log.error("WhatsApp refused message %s for good: %s", message.message_id, exc)

    async def _unreachable(self, wa_id: str) -> None:
        async with self.require_context().database.session() as session:
            await set_reachable(session, CHANNEL, wa_id, False)
            await session.commit()

    # ---- files ---------------------------------------------------------------------------
    async def file_url(self, file_id: str) -> str:
        """Where to download a customer's file now; it needs ``file_headers`` (the token)."""
        if self.client is None:
            raise ChannelUnavailable("the WhatsApp channel is not connected (no WHATSAPP_TOKEN)")
        try:
            return await self.client.media_url(file_id)
        except GraphError as exc:
            if exc.not_found:
                raise FileGone(exc.title) from None
            raise ChannelUnavailable(str(exc)) from None

    def file_headers(self, url: str) -> dict[str, str]:
        """WhatsApp's media URLs want the bearer token; the server never shows it to a browser."""
        return self.client.auth_headers if self.client is not None else {}
