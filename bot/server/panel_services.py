"""What the operator panel runs besides its routes: the first admin and quick phrases, auto-assignment,
login throttle.

The lifespan calls ``start`` once the services exist, ``tick`` from the maintenance
loop and ``aclose`` at shutdown. Auto-assignment reacts to events (a ticket queued,
an operator online) and runs on every tick, so nothing waits longer than a tick even
when an event was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.clock import Clock
from bot.events import EventBus
from bot.server.throttle import LoginThrottle
from bot.settings import BotdeskConfig
from bot.store import Database
from bot.store.sessions import purge_expired
from handoff.accounts import ensure_admin
from handoff.assign import AutoAssigner
from handoff.service import OperatorService

log = logging.getLogger("botdesk.panel")


class PanelServices:
    def __init__(
        self,
        config: BotdeskConfig,
        db: Database,
        operators: OperatorService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.config = config
        self.db = db
        self.operators = operators
        self.events = events
        self.clock = clock
        self.throttle = LoginThrottle(db, clock)  # shared by every process through the database
        self.assigner = AutoAssigner(config, db, operators, clock)
        self._admin_checked = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, ready: bool) -> None:
        """The first admin (when the store is usable), and the auto-assign listener."""
        if ready:
            await self._first_admin()
        if self.assigner.enabled and self._task is None:
            self._task = asyncio.create_task(self._listen(), name="botdesk-auto-assign")

    async def tick(self) -> None:
        """From the maintenance loop (the store is usable): what start could not do, a pass, cleanup."""
        await self._first_admin()
        await self.assigner.assign()
        async with self.db.session() as session:
            await purge_expired(session, now=self.clock())
            await session.commit()
        await self.throttle.purge()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _first_admin(self) -> None:
        if not self._admin_checked:
            await ensure_admin(self.db, self.config.language)
            await self.operators.seed_quick_phrases()  # config.yml's, the first time this database runs
            self._admin_checked = True

    async def _listen(self) -> None:
        with self.events.subscribe("ticket", "operator") as events:
            async for event in events:
                wanted = (event.kind == "ticket" and event.data.get("status") != "claimed") or (
                    event.kind == "operator" and event.data.get("status") == "online"
                )
                if not wanted:
                    continue
                try:
                    await self.assigner.assign()
                except Exception:  # the store went away, say: the next tick tries again
                    log.exception("auto-assignment failed")
