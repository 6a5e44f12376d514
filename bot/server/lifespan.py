"""Start and stop everything the server runs besides its routes.

Start: open the store and migrate it, load the NLU model (training it first when the
data or config changed), build the conversation and operator services, start the CRM
outbox worker and the maintenance loop (the operator service's timers and retried
deliveries, every few seconds). Stop, in reverse: refuse new requests and let the
running ones finish, stop the loops (a pass in flight completes), close the channels
and the store.

A database that cannot be reached at start is not fatal: the server comes up, answers
503 on /healthz and on the webhook (nothing is acknowledged that was not stored), and
the maintenance loop retries the migration until it works. A database URL that cannot
be right (a bad scheme, a missing directory) is a StoreError at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from bot.channels.base import Channel, ChannelContext, ChannelRouter
from bot.clock import Clock, utc_now
from bot.conversation import ConversationService
from bot.errors import ConfigError
from bot.events import EventBus, Presence, event_bus
from bot.files import FilePolicy, file_store_from_config
from bot.files.service import FileService
from bot.messages import OutboundMessage
from bot.nlu.pipeline import Pipeline
from bot.privacy import RetentionSweeper, keep_personal_data_out_of_logs
from bot.project import Project
from bot.server.inflight import InFlight
from bot.server.metrics import Metrics
from bot.server.panel_services import PanelServices
from bot.server.recovery import StrandedRecovery
from bot.settings import BotdeskConfig
from bot.store import Database, StoreError, upgrade
from bot.store.checkpoints import WalCheckpoints
from bot.store.db import display_url
from handoff.outbox import OutboxWorker
from handoff.queue_updates import QueueUpdates
from handoff.service import OperatorService, park_for_redelivery

log = logging.getLogger("botdesk.server")
FILE_SWEEP_SECONDS = 3600.0


def loop_time() -> float:
    return asyncio.get_running_loop().time()


@dataclass(frozen=True)
class ServerOptions:
    """What ``create_app`` was given; the lifespan builds the services from it."""

    project: Project
    pipeline: Pipeline | None = None
    clock: Clock = utc_now
    database_url: str | None = None
    transport: httpx.AsyncBaseTransport | None = None  # the network seam: REST callback and CRM
    tick_seconds: float = 5.0
    shutdown_timeout: float = 10.0
    channels: tuple[Channel, ...] = ()  # configured, built by create_app (their routes are served)


@dataclass
class ServerState:
    """The running services, as routes see them through ``bot.server.deps``."""

    config: BotdeskConfig
    db: Database
    pipeline: Pipeline
    conversations: ConversationService
    operators: OperatorService
    router: ChannelRouter
    outbox: OutboxWorker
    metrics: Metrics
    events: EventBus
    panel: PanelServices  # first admin, auto-assignment, login throttle
    files: FileService  # attachments: the configured file store, its policy and rows
    presence: Presence  # the operators at a live panel, on every process
    queue_updates: QueueUpdates  # waiting customers hear when the queue moves
    ready: bool = False  # the store is migrated and usable
    problem: str | None = None  # why not, for /healthz
    channels: list[Channel] = field(default_factory=list)  # the running ones (started by the lifespan)

    @property
    def model_version(self) -> str | None:
        return self.pipeline.version

    async def migrate(self) -> bool:
        try:
            await upgrade(self.db.engine)
        except StoreError as exc:
            if self.problem != str(exc):
                log.error("the database is not usable yet (%s); retrying", exc)
            self.ready, self.problem = False, str(exc)
            return False
        if self.problem is not None:
            log.info("the database %s is usable now", display_url(self.db.url))
        self.ready, self.problem = True, None
        return True


async def load_pipeline(project: Project) -> Pipeline:
    """The current model, trained first when it does not fit the data and config."""
    info, trained = await asyncio.to_thread(project.train)
    if trained:
        log.info("trained model %s (the data or config had changed)", info.version)
    return await asyncio.to_thread(project.models.load, project.config, info)


async def start(options: ServerOptions, metrics: Metrics) -> ServerState:
    keep_personal_data_out_of_logs()  # no SQL parameters or request bodies at DEBUG
    project = options.project
    config = project.config
    # Checkpoints of a SQLite log run on a worker thread (bot.store.checkpoints), not in a commit.
    db = Database.open(
        options.database_url or config.database_url(), base_dir=project.root, background_checkpoints=True
    )
    try:
        pipeline = options.pipeline or await load_pipeline(project)
        metrics.set_model(pipeline.version)
        engine = project.engine(seed=None)
        router = ChannelRouter()  # the channels that can push register once they run
        file_store = file_store_from_config(config.files, project.root)
        outbox = OutboxWorker.from_config(db.sessions, config.crm, transport=options.transport)
    except BaseException:
        await db.close()
        raise
    metrics.watch_outbox(outbox)
    try:
        postgres = db.url.render_as_string(hide_password=False) if db.dialect == "postgresql" else None
        events = event_bus(config, postgres)
    except ConfigError:
        await db.close()
        raise
    presence = Presence(events)
    operators = OperatorService(
        config,
        db,
        engine,
        deliver=router,
        clock=options.clock,
        events=events,
        check=router.check,
        presence=presence,
        signals=router,
    )
    operators.first_response_observer = metrics.first_response.observe  # KPIs live on /metrics
    state = ServerState(
        config=config,
        db=db,
        pipeline=pipeline,
        conversations=ConversationService(
            config,
            db.turns,
            lambda: pipeline,
            engine,
            clock=options.clock,
            events=events,
            observer=metrics,
            presence=presence,
        ),
        operators=operators,
        router=router,
        outbox=outbox,
        metrics=metrics,
        events=events,
        panel=PanelServices(config, db, operators, events, options.clock),
        files=FileService(file_store, FilePolicy(config.files), db),
        presence=presence,
        queue_updates=QueueUpdates(config, db, operators, router, events, presence, options.clock),
    )
    metrics.watch_channels(state.channels)  # their own counters (WhatsApp's delivery statuses)
    await state.migrate()
    await events.start()  # a shared broker that is down is not fatal: local events still flow
    await presence.start()  # asks the other processes who is at their panels
    try:  # a token the platform refuses stops the start, like a broken config.yml
        await file_store.start()  # a files directory that cannot be made, too
        await start_channels(state, options)
    except BaseException:
        await stop_channels(state)
        await presence.aclose()
        await events.aclose()
        await db.close()
        raise
    await state.panel.start(state.ready)
    await state.queue_updates.start()
    outbox.start(events)  # a saved lead wakes it at once
    log.info(
        "botdesk ready: model %s, database %s%s, channels out: %s",
        pipeline.version,
        display_url(db.url),
        "" if state.ready else " (NOT reachable yet)",
        ", ".join(router.names) or "none (clients poll)",
    )
    return state


async def start_channels(state: ServerState, options: ServerOptions) -> None:
    """Start every configured channel; those that run and can push deliver operators' messages."""
    db = state.db

    async def park(message: OutboundMessage) -> None:
        await park_for_redelivery(db, message)

    context = ChannelContext(
        config=state.config,
        conversations=state.conversations,
        database=db,
        events=state.events,
        clock=options.clock,
        transport=options.transport,
        ready=lambda: state.ready,
        park=park,
        files=state.files,
        presence=state.presence,
    )
    for channel in options.channels:
        if await channel.start(context):
            state.channels.append(channel)
            if channel.pushes:
                state.router.register(channel)
        else:
            log.info("channel %s is configured but not started (its credentials are not set)", channel.name)


async def stop_channels(state: ServerState) -> None:
    """Stop the running channels, newest first; the messages in hand are finished first."""
    while state.channels:
        channel = state.channels.pop()
        try:
            await channel.stop()
        except Exception:  # one channel's trouble must not keep the others (or the store) open
            log.exception("channel %s did not stop cleanly", channel.name)


async def maintain(state: ServerState, every: float, stopping: asyncio.Event) -> None:
    """The operator service's timers, retried deliveries and retention, every ``every`` seconds."""
    retention = RetentionSweeper(state.config.privacy, state.db, state.operators.clock)  # old conversations
    stranded = StrandedRecovery(
        state.conversations, state.db, state.router
    )  # turns a crashed process left undone
    next_file_sweep = 0.0  # files no message holds (an upload whose message never came): hourly
    while not stopping.is_set():
        try:
            if state.ready or await state.migrate():
                await state.operators.tick()
                await state.panel.tick()
                state.queue_updates.poke()
                await retention.tick()
                await stranded.tick()
                if loop_time() >= next_file_sweep:
                    next_file_sweep = loop_time() + FILE_SWEEP_SECONDS
                    await state.files.sweep_orphans(state.operators.clock())
                redelivered = await state.operators.redeliver()
                if redelivered:
                    state.metrics.redelivered.inc(redelivered)
        except Exception:  # the store went away, say: logged, tried again next round
            log.exception("maintenance round failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every):
                await stopping.wait()


async def stop(
    state: ServerState,
    requests: InFlight,
    tasks: list[asyncio.Task[None]],
    stopping: asyncio.Event,
    timeout: float,
) -> None:
    requests.close()
    if not await requests.wait_idle(timeout):
        log.warning("shutdown: %d request(s) still running after %g s", requests.count, timeout)
    await stop_channels(state)  # the messages in hand are handled while the store is open
    stopping.set()
    background = asyncio.gather(*tasks, return_exceptions=True)  # each ends on its own; none raises
    try:
        async with asyncio.timeout(timeout):
            await asyncio.shield(background)
    except TimeoutError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await state.panel.aclose()
    await state.files.store.close()
    await state.queue_updates.aclose()
    await state.presence.aclose()
    await state.events.aclose()
    await state.outbox.aclose(timeout)
    await state.db.close()
    log.info("botdesk stopped")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    options: ServerOptions = app.state.options
    requests: InFlight = app.state.requests
    state = await start(options, app.state.metrics)
    app.state.botdesk = state
    stopping = asyncio.Event()
    task = asyncio.create_task(maintain(state, options.tick_seconds, stopping), name="botdesk-maintenance")
    tasks = [task]
    checkpoints = WalCheckpoints(state.db.turns)
    if checkpoints.applies:
        tasks.append(asyncio.create_task(checkpoints.run(stopping), name="botdesk-wal-checkpoints"))
    try:
        yield
    finally:
        await stop(state, requests, tasks, stopping, options.shutdown_timeout)
