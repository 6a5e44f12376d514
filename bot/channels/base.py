"""What a channel is to botdesk: a plugin that brings customers' messages in and takes replies out.

A channel (Telegram, the site's widget, the REST API, ...) is one module or package under
``bot/channels/`` with a ``Channel`` subclass, registered by name (``register_channel``,
``bot.channels.registry``) and configured in config.yml's ``channels.<name>`` section,
which its ``Options`` model validates. botdesk never names a channel anywhere else: the
app serves what ``http()`` declares, the lifespan starts and stops every configured
channel, and ``ChannelRouter`` delivers later messages (an operator's reply) through
the customer's own channel.

Inbound, a channel turns its platform's payload into an ``InboundMessage`` and hands it
to ``ChannelContext.conversations.handle_and_account``: the replies come back stored and
counted, or a ``TurnRefused`` says why not (nothing to map but the reason). Outbound,
``send`` delivers one ``OutboundMessage``; raising ``ChannelUnavailable`` (or any error)
means "not now": the message stays stored and the operator service delivers it again
later. A message the platform refuses by its rules (WhatsApp's 24-hour window) is
refused before it is stored, by ``check_send`` (``DeliveryRefused``). A channel whose
clients fetch their messages themselves (REST without a callback URL) says so with
``capabilities.push = False``.

A minimal channel, end to end (docs/channels/example.md walks through it)::

    class EchoChannel(Channel):
        name = "echo"

        def http(self) -> ChannelHttp:
            router = APIRouter()
            router.add_api_route("/webhooks/echo", self.receive, methods=["POST"])
            return ChannelHttp(router)

        async def receive(self, body: EchoIn) -> list[str]:
            context = self.require_context()
            handled = await context.conversations.handle_and_account(
                InboundMessage(self.name, body.user, body.text)
            )
            return [reply.text for reply in handled.replies]

        async def send(self, message: OutboundMessage) -> None:
            raise ChannelUnavailable("echo clients poll")  # or push it to the platform
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from starlette.types import Receive, Scope, Send

from bot.clock import Clock
from bot.conversation import ConversationService
from bot.errors import BotdeskError
from bot.errors import DeliveryRefused as DeliveryRefused  # channels raise it from check_send
from bot.events import NO_PRESENCE, EventBus, Presence
from bot.files.service import FileService
from bot.messages import OutboundMessage, QueueStatus, Typing
from bot.settings import BotdeskConfig
from bot.store import Database

log = logging.getLogger("botdesk.channels")

BodyReader = Callable[[Receive], Awaitable[bytes]]
"""Reads a request's body within the path's limit (the server's guard); ``BodyRejected`` otherwise."""

Lane = Callable[[Scope, Receive, Send, BodyReader], Awaitable[None]]
"""An ASGI handler served in front of FastAPI's router and middleware (the customers' hot path)."""


class BodyRejected(BotdeskError):
    """A request body the server refused while reading it: too large (413), too slow (408), cut off.

    Args:
        status: the HTTP status to answer.
        detail: one sentence for the client.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ChannelUnavailable(BotdeskError):
    """The channel cannot take a message now (the platform is down, the client went away): try later."""


class FileGone(ChannelUnavailable):
    """The platform no longer has a file a customer sent (expired, deleted)."""


class ChannelOptions(BaseModel):
    """A channel's section of config.yml (``channels.<name>``); unknown keys are errors.

    Secrets never go here (config.yml refuses keys such as ``token``): a channel reads
    its credentials from environment variables, and without them it does not start.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show and do, for the services that prepare its messages.

    ``push``: it can deliver a message later (an operator's reply); without it the
    message stays stored and the client fetches it. ``buttons``, ``files``, ``typing``:
    response buttons, attachments, a typing indicator (``Channel.typing``). ``live_status``:
    the customer's window shows the queue position as it changes (``Channel.queue_status``);
    without it a waiting customer gets a message, and only when the queue moved notably.
    ``max_text_chars``: longer texts are split by the channel itself (None: no limit).
    """

    push: bool = True
    buttons: bool = False
    files: bool = False
    typing: bool = False
    live_status: bool = False
    max_text_chars: int | None = None


@dataclass(frozen=True)
class ChannelHttp:
    """What a channel serves over HTTP, declared once, served by the app.

    Args:
        router: its routes (webhooks, sockets, pages), included in the app as they are.
        lanes: ``(method, path)`` -> a ``Lane`` answered in front of FastAPI's middleware
            and router: for the one request that carries every customer message.
        body_limits: path -> the most bytes a request body may have (the server's guard
            refuses more with 413 while reading, before anything parses it).
        own_json: paths whose JSON the channel checks itself (``bot.json_input``).
    """

    router: APIRouter | None = None
    lanes: dict[tuple[str, str], Lane] = field(default_factory=dict)
    body_limits: dict[str, int] = field(default_factory=dict)
    own_json: frozenset[str] = frozenset()


async def _nowhere_to_park(message: OutboundMessage) -> None:
    log.warning("message %s could not be sent and nothing keeps it for later", message.message_id)


@dataclass(frozen=True)
class ChannelContext:
    """The running services a channel gets when it starts.

    Args:
        config: the project's configuration (the bot's label, language, working hours).
        conversations: ``handle_and_account`` takes every customer message.
        database: for what the channel reads itself (a sender's later messages, a history).
        events: the live event bus (e.g. a web chat open on another server process).
        clock: the time the services run on.
        transport: the network for outgoing HTTP (tests put a local fake here); None: the real one.
        ready: whether the store is usable now (False: answer 503, store nothing).
        park: keeps a message the channel could not send now; the operator service delivers
            it again later (through ``send``), until the channel takes it.
        files: the file store (``bot.files``): a customer's file is kept with ``files.accept``,
            its attachment goes in the ``InboundMessage``, and ``files.link_inbound`` ties it to the
            stored message (docs/security.md, "Files"). None where the server keeps no files.
        presence: which operators are at a live panel (the widget's "operators are online").
    """

    config: BotdeskConfig
    conversations: ConversationService
    database: Database
    events: EventBus
    clock: Clock
    transport: httpx.AsyncBaseTransport | None = None
    ready: Callable[[], bool] = lambda: True
    park: Callable[[OutboundMessage], Awaitable[None]] = _nowhere_to_park
    files: FileService | None = None
    presence: Presence = NO_PRESENCE

    async def deliver(
        self,
        send: Callable[[OutboundMessage], Awaitable[None]],
        message: OutboundMessage,
        *,
        retried: type[Exception] | tuple[type[Exception], ...] = Exception,
    ) -> None:
        """Send a reply now through ``send``, or ``park`` it for the operator service to redeliver.

        Args:
            send: the channel's ``send``.
            message: the reply.
            retried: the errors worth another try later; any other is logged and the
                message dropped (the platform refused it for good).
        """
        try:
            await send(message)
        except retried as exc:
            log.warning(
                "%s message %s not sent (%s); retrying later", message.channel, message.message_id, exc
            )
            await self.park(message)
        except Exception:
            log.exception("%s message %s not sent", message.channel, message.message_id)


class ChannelNotStarted(BotdeskError):
    """A request reached a channel before the server started it (or after it stopped)."""


class Channel:
    """The base of every channel plugin; see the module docstring.

    Subclasses set ``name`` (as in ``InboundMessage.channel`` and config.yml), ``Options``
    and ``capabilities``, and override what they use of ``http``, ``start``, ``stop`` and
    ``send``. The constructor must not do I/O: the app is built before anything runs.

    Args:
        options: the channel's validated ``channels.<name>`` section.
        config: the whole configuration, for what every channel needs (the bot's label).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[ChannelOptions]] = ChannelOptions
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        self.options = options
        self.config = config
        self.context: ChannelContext | None = None

    def http(self) -> ChannelHttp:
        """Routes and lanes to serve, called once when the app is built (before ``start``).

        Returns:
            The channel's FastAPI routes (webhooks, its pages), its fast ASGI lanes and the
            body limit of each path; the default serves nothing (a polling channel).
        """
        return ChannelHttp()

    async def start(self, context: ChannelContext) -> bool:
        """Connect to the platform; False when the channel stays off (e.g. no credentials set).

        Args:
            context: the running services (conversations, store, events, clock, HTTP client);
                keep it (the default does) and reach it with :meth:`require_context`.

        Returns:
            True when the channel runs and can ``send``.
        """
        self.context = context
        return True

    async def stop(self) -> None:
        """Disconnect; messages in hand are finished first. Called once, at shutdown."""
        self.context = None

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message to its customer; raise when the channel cannot take it now.

        Args:
            message: a reply to send, already stored (``message_id``), labelled with who says it.
        """
        raise ChannelUnavailable(f"the {self.name} channel cannot push messages; its clients fetch them")

    async def typing(self, signal: Typing) -> None:
        """Show the customer that an operator types (``capabilities.typing``); nothing by default.

        Called at most every few seconds while the operator types, and with ``active`` False
        when they stop. Never raises for a customer who went away: the signal is only a hint.

        Args:
            signal: who types to which customer (``recipient_id``), and whether still.
        """

    async def queue_status(self, status: QueueStatus) -> None:
        """Show a waiting customer their place and wait as they change (``capabilities.live_status``).

        Called on every process when the queue changes; a channel shows it to the customer's
        connections on this process only. Nothing by default.
        """

    async def file_url(self, file_id: str) -> str:
        """Where to download a file a customer sent (``capabilities.files``); never shown to a browser.

        Raises:
            FileGone: the platform no longer has it.
            ChannelUnavailable: the platform cannot be asked now.
        """
        raise ChannelUnavailable(f"the {self.name} channel keeps no files")

    def file_headers(self, url: str) -> dict[str, str]:
        """Headers the download of ``file_url``'s URL needs (WhatsApp's wants the bearer token).

        The server sends them with its own request and never shows them to a browser.
        """
        return {}

    async def check_send(self, message: OutboundMessage) -> None:
        """Refuse, before it is stored, a message the platform would not take by its rules.

        The operator service asks this before storing an operator's reply, so the
        operator is told at once (in their language, by ``DeliveryRefused.reason``)
        instead of the reply waiting for a delivery that cannot happen. Answer from
        what the channel knows (its store, its memory): no network calls.

        Example: WhatsApp takes free-form messages only within 24 hours of the
        customer's last one::

            async def check_send(self, message: OutboundMessage) -> None:
                if not await self.window_open(message.recipient_id):
                    raise DeliveryRefused("window_closed", "over 24 h since they wrote", window_hours=24)

        Raises:
            DeliveryRefused: the platform would refuse the message now, whatever retries.
        """

    def counters(self) -> dict[str, int]:
        """The channel's own event counts for /metrics (``botdesk_channel_events``), by event name.

        Counts only grow (e.g. WhatsApp's delivery statuses: ``status_delivered``).
        """
        return {}

    @property
    def running(self) -> bool:
        return self.context is not None

    @property
    def pushes(self) -> bool:
        """Can it deliver a message later (an operator's reply)? Then ``ChannelRouter`` sends through it."""
        return self.running and self.capabilities.push

    def require_context(self) -> ChannelContext:
        """The running services, or ``ChannelNotStarted`` (routes answer it with 503)."""
        if self.context is None:
            raise ChannelNotStarted(f"the {self.name} channel is not running (the server is starting)")
        return self.context

    @classmethod
    def options_from(cls, section: Any) -> ChannelOptions:
        """Validate config.yml's section for this channel (pydantic's errors as they are)."""
        return cls.Options.model_validate(section or {})


class ChannelRouter:
    """Delivers a message through the channel it belongs to; ``OperatorService``'s ``deliver``.

    Only running channels that can push are registered: without one, a message stays
    stored and its client fetches it (REST polling).
    """

    def __init__(self, channels: list[Channel] | None = None) -> None:
        self._channels: dict[str, Channel] = {}
        for channel in channels or []:
            self.register(channel)

    def register(self, channel: Channel) -> None:
        if channel.name in self._channels:
            raise ValueError(f"a channel named {channel.name!r} is registered already")
        self._channels[channel.name] = channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._channels)

    async def check(self, message: OutboundMessage) -> None:
        """``Channel.check_send`` of the message's channel (nothing to check without one).

        Raises:
            DeliveryRefused: the channel would refuse the message now.
        """
        channel = self._channels.get(message.channel)
        if channel is not None:
            await channel.check_send(message)

    def live(self, channel: str) -> bool:
        """``CustomerSignals``: whether the channel shows the queue as it moves."""
        found = self._channels.get(channel)
        return found is not None and found.capabilities.live_status

    async def typing(self, signal: Typing) -> None:
        """``CustomerSignals``: an operator types; a hint, so a channel's trouble is logged, not raised."""
        channel = self._channels.get(signal.channel)
        if channel is None or not channel.capabilities.typing:
            return
        try:
            await channel.typing(signal)
        except Exception as exc:
            log.debug("typing signal to %s not shown: %r", signal.channel, exc)

    async def queue_status(self, status: QueueStatus) -> None:
        """``CustomerSignals``: a waiting customer's place, to channels that show it live."""
        channel = self._channels.get(status.channel)
        if channel is None or not channel.capabilities.live_status:
            return
        try:
            await channel.queue_status(status)
        except Exception as exc:
            log.debug("queue status to %s not shown: %r", status.channel, exc)

    async def __call__(self, message: OutboundMessage) -> None:
        """Send through the message's channel; without one it stays stored for polling."""
        channel = self._channels.get(message.channel)
        if channel is None:
            log.debug("no output channel %r: message %s stays stored", message.channel, message.message_id)
            return
        await channel.send(message)

    deliver = __call__
