"""The VK community bot: events in (Callback API or Long Poll), botdesk's messages out.

In: ``handle`` takes one event. ``message_new`` from a person becomes an
``InboundMessage``; the conversation service stores it first (once, by VK's message id),
then the bot's replies go out in the background, so a Callback API request is answered
"ok" as soon as the message is stored. ``message_deny`` / ``message_allow`` (the customer
forbade or allowed the community's messages) mark the customer (un)reachable.
Out: ``send`` delivers operator and system messages (``VkChannel.send``) through
``messages.send``. Errors 6/9 are waited out and the same call repeated (``VkApi.call``);
900/901/902 (blocked, no permission, privacy) mark the customer unreachable and the
message stays stored, without retries; anything else parks the message
(``ChannelContext.park``) and the operator service redelivers it later, with the same
``random_id`` per part, so VK never shows it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from bot.channels.base import ChannelContext, ChannelUnavailable
from bot.channels.vk.api import VkApi, VkApiError, VkAuthError, VkFlood, VkUnreachable
from bot.channels.vk.env import VkCredentials
from bot.channels.vk.inbound import CHANNEL, as_dict, incoming, payload_command, profile_of, to_inbound
from bot.channels.vk.media import Media, attachment_source
from bot.channels.vk.options import VkSettings
from bot.channels.vk.outbound import render
from bot.conversation import Handled
from bot.conversation.accounting import TurnRefused
from bot.errors import BotdeskError
from bot.messages import InboundMessage, OutboundMessage
from bot.store import set_reachable

log = logging.getLogger("botdesk.channels.vk")
STORE_RETRIES = (0.5, 1, 2, 4, 8, 15, 30)  # Long Poll: a store that is down gets about a minute
REMEMBERED = 10_000  # events seen, profiles, keyboards shown: each an LRU of this many
MAX_EVENT_ID = 64  # VK's are 40 hex digits; a longer one is remembered by its start
PROFILE_TIMEOUT = 3.0  # a name is nice to have: never hold a message for it


class EventNotStored(BotdeskError):
    """A Callback API event that could not be stored: VK must send it again (answered 503)."""


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > REMEMBERED:
        cache.popitem(last=False)


class VkBot:
    """One community's messages: see the module docstring."""

    def __init__(self, settings: VkSettings, credentials: VkCredentials, context: ChannelContext) -> None:
        self.settings = settings
        self.credentials = credentials
        self.context = context
        self.conversations = context.conversations
        self.db = context.database
        self.group_id = credentials.group_id
        self.api = VkApi(
            credentials,
            settings.api_version,
            transport=context.transport,
            flood_retries=settings.flood_retries,
            per_second=settings.requests_per_second,
        )
        self.media = Media(self.api, context.database)
        self.retry_store = settings.mode == "longpoll"  # a webhook's sender retries; nobody else would
        self._events: OrderedDict[str, None] = OrderedDict()  # event ids handled (Callback API retries)
        self._profiles: OrderedDict[int, dict[str, Any] | None] = OrderedDict()
        self._keyboards: OrderedDict[str, None] = OrderedDict()  # peers with a reply keyboard showing
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- life cycle ------------------------------------------------------------------------
    async def identify(self) -> int:
        """The community the token belongs to (``groups.getById``); checks the token."""
        found = await self.api.call("groups.getById", group_id=self.group_id)
        groups = found.get("groups") if isinstance(found, dict) else found  # 5.194+: {"groups": [...]}
        group = as_dict(groups[0] if isinstance(groups, list) and groups else None).get("id")
        if not isinstance(group, int):
            raise VkApiError(-1, "groups.getById returned no community", "groups.getById")
        if self.group_id is None:
            self.group_id = group
        return self.group_id

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background; ``stop`` waits for it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Finish the messages in hand (their replies included), then close the connections."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.api.aclose()

    # ---- inbound ---------------------------------------------------------------------------
    def seen(self, event_id: Any) -> bool:
        """Has this process handled the event already? (Messages are also stored once by their id.)"""
        return isinstance(event_id, str) and event_id[:MAX_EVENT_ID] in self._events

    async def handle(self, event: dict[str, Any]) -> None:
        """One event; ``EventNotStored`` when the store is down and the sender should retry."""
        kind = event.get("type")
        if kind == "message_new":
            await self._on_message(event)
        elif kind in ("message_allow", "message_deny"):
            await self._on_permission(event, allowed=kind == "message_allow")
        else:
            log.debug("VK event %r ignored", kind)
        event_id = event.get("event_id")
        if isinstance(event_id, str):
            _remember(self._events, event_id[:MAX_EVENT_ID], None)

    async def _on_message(self, event: dict[str, Any]) -> None:
        message = incoming(event)
        if message is None:
            return
        text = None
        command = payload_command(message.payload)
        if command is not None:
            kind, value = command
            if kind == "button":
                text = value
                if self.settings.one_time:
                    self._keyboards.pop(str(message.user_id), None)  # VK hid it on the press
            else:
                text = "/greet" if "greet" in self.conversations.pipeline().intents else message.text
        inbound = to_inbound(message, text=text, profile=await self._profile(message.user_id))
        if inbound is None:
            return
        try:
            handled = await self._handle(inbound)
        except TurnRefused as refused:
            if refused.retry:
                raise EventNotStored(refused.detail) from None
            log.info("VK message from %s not answered: %s", inbound.sender_id, refused.detail)
            return
        if handled.replies:
            self.spawn(self._deliver_all(handled.replies))

    async def _handle(self, inbound: InboundMessage) -> Handled:
        """Store and answer; Long Poll retries a store that is down (VK would not send it again)."""
        for delay in STORE_RETRIES if self.retry_store else ():
            try:
                return await self.conversations.handle_and_account(inbound)
            except TurnRefused as refused:
                if not refused.retry:
                    raise
                log.warning("VK message from %s not stored yet; retrying", inbound.sender_id)
                await asyncio.sleep(delay)
        return await self.conversations.handle_and_account(inbound)

    async def _profile(self, user_id: int) -> dict[str, Any] | None:
        """The customer's name (``users.get``), asked once per process; None if VK does not say now."""
        if user_id in self._profiles:
            return self._profiles[user_id]
        try:
            async with asyncio.timeout(PROFILE_TIMEOUT):
                users = await self.api.call("users.get", user_ids=user_id, fields="screen_name")
        except (TimeoutError, VkApiError, ChannelUnavailable) as exc:
            log.info("VK user's name not known now (%s)", exc)
            return None
        profile = profile_of(as_dict(users[0] if isinstance(users, list) and users else None))
        _remember(self._profiles, user_id, profile)
        return profile

    async def _on_permission(self, event: dict[str, Any], *, allowed: bool) -> None:
        """The customer allowed or forbade the community's messages: VK tells us before a send fails."""
        obj = event.get("object")
        user = obj.get("user_id") if isinstance(obj, dict) else None
        if not isinstance(user, int):
            return
        async with self.db.session() as session:
            if await set_reachable(session, CHANNEL, str(user), allowed):
                await session.commit()
        log.info("VK user %s %s the community's messages", user, "allowed" if allowed else "denied")

    # ---- outbound --------------------------------------------------------------------------
    async def _deliver_all(self, replies: list[OutboundMessage]) -> None:
        for reply in replies:
            await self.deliver(reply)

    async def deliver(self, message: OutboundMessage) -> None:
        """Send a reply now, or park it for the operator service to redeliver."""
        await self.context.deliver(self.send, message)

    async def send(self, message: OutboundMessage) -> None:
        """Every part of the message to the customer's dialogue, labelled; raises to be retried later."""
        peer = message.recipient_id
        if not peer.isdigit():
            log.error("message %s has no VK user to go to (%r)", message.message_id, peer)
            return
        peer_id = int(peer)
        style = self.settings.keyboard
        parts = render(message, style, self.settings.one_time, clear_keyboard=peer in self._keyboards)
        try:
            files = await self._files(peer_id, message)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                await self.api.call(
                    "messages.send",
                    peer_id=peer_id,
                    random_id=part.random_id,
                    message=part.text,
                    keyboard=part.keyboard,
                    attachment=files if last and files else None,
                    dont_parse_links=True,
                )
            shown = parts[-1].keyboard
            if shown is not None and style == "reply" and shown.get("buttons"):
                _remember(self._keyboards, peer, None)
            elif shown is not None:
                self._keyboards.pop(peer, None)
        except VkUnreachable as exc:  # blocked, or no permission: nobody to retry for
            await self._unreachable(peer, message, exc)
        except VkAuthError as exc:
            raise ChannelUnavailable(f"VK refused the token ({exc.code}): check VK_GROUP_TOKEN") from None

    async def _files(self, peer_id: int, message: OutboundMessage) -> list[str]:
        """The response's picture and document, uploaded to VK (left out, logged, if VK refuses them)."""
        files: list[str] = []
        source = attachment_source(message.attachment)
        try:
            if message.image:
                photo = await self.media.photo(peer_id, message.image)
                files += [photo] if photo else []
            if source is not None:
                doc = await self.media.document(peer_id, *source)
                files += [doc] if doc else []
        except (VkUnreachable, VkFlood, VkAuthError):
            raise  # the whole message waits, or nobody is there
        except VkApiError as exc:  # a file VK will not take: the text still goes
            log.warning("VK refused a response's file for message %s (%s)", message.message_id, exc)
        return files

    async def _unreachable(self, peer: str, message: OutboundMessage, exc: VkApiError) -> None:
        log.warning("VK user %s is unreachable (%s): message %s stays stored", peer, exc, message.message_id)
        async with self.db.session() as session:
            await set_reachable(session, CHANNEL, peer, False)
            await session.commit()

    # ---- files -----------------------------------------------------------------------------
    async def file_url(self, file_id: str) -> str:
        return await self.media.file_url(file_id, self.group_id)
