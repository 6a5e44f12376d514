"""Bots Long Poll: botdesk asks VK for events, for setups without a public URL.

``groups.getLongPollServer`` gives a server, a key and the event number ``ts``; each
request waits up to ``poll_wait_seconds`` for events after ``ts``. VK's answers besides
events: ``failed: 1`` (some history lost: go on from the new ``ts``), ``failed: 2`` (the
key expired: a new key, the same ``ts``, so nothing is skipped), ``failed: 3`` (the
session is gone: a new key and ``ts``). Events of one customer are handled in order, of
different customers side by side, and the next request does not wait for them.

A new session starts at VK's current event, so what customers wrote while botdesk was
down (or between two sessions) would never come: each new session first asks for the
dialogues left unanswered (``messages.getConversations``, ``filter=unanswered``) and
handles the last message of each written within ``catch_up_hours``. A message botdesk
has already stored is recognised by its VK id and not answered twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bot.channels.base import ChannelUnavailable
from bot.channels.vk.api import PollKeyRedactor, VkApiError, VkAuthError
from bot.channels.vk.client import EventNotStored, VkBot
from bot.channels.vk.inbound import as_dict, message_of

log = logging.getLogger("botdesk.channels.vk")
RETRY_SECONDS = (1, 2, 5, 10, 30)  # the API or the long-poll server unreachable: wait, longer each time
MAX_IN_HAND = 64  # events being handled at once


def sender_of(event: dict[str, Any]) -> int | None:
    """The customer an event is about, to keep one customer's events in order."""
    for value in (message_of(event).get("from_id"), as_dict(event.get("object")).get("user_id")):
        if isinstance(value, int):
            return value
    return None


class LongPoll:
    """The polling loop of one ``VkBot``; ``start`` and ``stop`` it."""

    def __init__(self, bot: VkBot, wait: int) -> None:
        self.bot = bot
        self.wait = wait
        self._task: asyncio.Task[None] | None = None
        self._chains: dict[int | None, asyncio.Task[None]] = {}  # the last event in hand per customer
        self._slots = asyncio.Semaphore(MAX_IN_HAND)
        self._redactor = PollKeyRedactor()
        self.connected = asyncio.Event()

    def start(self) -> None:
        logging.getLogger("httpx").addFilter(self._redactor)
        self._task = asyncio.create_task(self._run(), name="botdesk-vk-longpoll")

    async def stop(self) -> None:
        """Stop asking; the events in hand are finished by ``VkBot.stop``."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        logging.getLogger("httpx").removeFilter(self._redactor)

    async def _server(self) -> dict[str, str]:
        group = self.bot.group_id or await self.bot.identify()
        found = await self.bot.api.call("groups.getLongPollServer", group_id=group)
        return {"server": str(found["server"]), "key": str(found["key"]), "ts": str(found["ts"])}

    async def _enable(self) -> None:
        """Switch Long Poll on with the events botdesk handles; a token without the "manage" right
        cannot, and then the community's settings must say so (docs/channels/vk.md)."""
        try:
            await self.bot.api.call(
                "groups.setLongPollSettings",
                group_id=self.bot.group_id or await self.bot.identify(),
                enabled=True,
                api_version=self.bot.settings.api_version,
                message_new=True,
                message_allow=True,
                message_deny=True,
            )
        except VkAuthError:
            raise
        except VkApiError as exc:
            log.info("VK Long Poll settings left as they are (%s); check them in the community", exc)

    async def _run(self) -> None:
        server: dict[str, str] | None = None
        failures = 0
        enabled = False
        while True:
            try:
                if not enabled:
                    await self._enable()
                    enabled = True
                if server is None:
                    server = await self._server()
                    log.info("VK community %s connected (Bots Long Poll)", self.bot.group_id)
                    await self._catch_up()
                    self.connected.set()
                answer = await self.bot.api.poll(server["server"], server["key"], server["ts"], self.wait)
                failures = 0
                failed = answer.get("failed")
                if failed is None:
                    self._dispatch(answer.get("updates"))
                    server["ts"] = str(answer.get("ts", server["ts"]))
                elif failed == 1:
                    log.warning("VK Long Poll: some events were lost (history outdated); going on")
                    server["ts"] = str(answer.get("ts", server["ts"]))
                elif failed == 2:
                    server = {**await self._server(), "ts": server["ts"]}  # a new key, nothing skipped
                else:
                    server = None
            except asyncio.CancelledError:
                raise
            except VkAuthError as exc:
                log.error("VK refused the token (%s): check VK_GROUP_TOKEN and its rights", exc)
                server, failures = None, len(RETRY_SECONDS) - 1
                await asyncio.sleep(RETRY_SECONDS[-1])
            except (ChannelUnavailable, VkApiError, KeyError, TypeError) as exc:
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("VK Long Poll failed (%s); trying again in %g s", exc, wait)
                if not isinstance(exc, ChannelUnavailable):
                    server = None  # a session VK refuses: start a new one
                await asyncio.sleep(wait)

    async def _catch_up(self) -> None:
        """Handle the last message of each dialogue left unanswered while no session ran."""
        hours = self.bot.settings.catch_up_hours
        if hours <= 0:
            return
        try:
            found = await self.bot.api.call(
                "messages.getConversations", group_id=self.bot.group_id, filter="unanswered", count=200
            )
        except (ChannelUnavailable, VkApiError) as exc:
            log.warning("VK dialogues left unanswered not fetched (%s)", exc)
            return
        since = time.time() - hours * 3600
        missed = []
        for item in as_dict(found).get("items") or []:
            message = as_dict(as_dict(item).get("last_message"))
            date = message.get("date")
            if isinstance(date, int) and date >= since:
                missed.append({"type": "message_new", "object": {"message": message}})
        if missed:
            log.info("VK: %d dialogue(s) left unanswered while disconnected; answering", len(missed))
            self._dispatch(sorted(missed, key=lambda e: e["object"]["message"]["date"]))

    def _dispatch(self, updates: Any) -> None:
        """Hand each event to the bot: one customer's in order, the next request not held up."""
        for event in updates if isinstance(updates, list) else []:
            if not isinstance(event, dict) or self.bot.seen(event.get("event_id")):
                continue
            sender = sender_of(event)
            previous = self._chains.get(sender)
            task = asyncio.create_task(self._handle(event, previous))
            self._chains[sender] = task
            self.bot.spawn(self._forget(sender, task))

    async def _handle(self, event: dict[str, Any], previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        async with self._slots:
            try:
                await self.bot.handle(event)
            except EventNotStored as exc:
                log.error("VK message lost: the store stayed down (%s)", exc)
            except Exception:
                log.exception("VK event not handled")

    async def _forget(self, sender: int | None, task: asyncio.Task[None]) -> None:
        await asyncio.gather(task, return_exceptions=True)
        if self._chains.get(sender) is task:
            del self._chains[sender]
