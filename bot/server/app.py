"""The botdesk web app: channels, health and metrics over one set of running services.

``create_app(project)`` builds the FastAPI app; its lifespan (``bot.server.lifespan``)
starts the store, the model, the services and the background workers, and stops them
gracefully. ``botdesk run`` serves it with uvicorn; tests pass a trained ``pipeline``,
a ``clock``, a ``database_url`` and an httpx ``transport`` instead of the real ones.
"""

from __future__ import annotations

import httpx

import bot
from bot.channels.registry import configured_channels
from bot.clock import Clock, utc_now
from bot.files import UPLOAD_MARGIN, require_file_store
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.server import unavailable, validation_errors
from bot.server.auth import PageForbidden
from bot.server.inflight import InFlight, InFlightMiddleware
from bot.server.lanes import BotdeskApp
from bot.server.lifespan import ServerOptions, lifespan
from bot.server.metrics import Metrics
from bot.server.request_guard import RequestGuard
from bot.server.routes import (
    api_admin,
    api_auth,
    api_conversations,
    api_customers,
    api_editor,
    api_events,
    api_labels,
    api_queue,
    dashboard,
    editor_page,
    files,
    health,
    panel,
)


def create_app(
    project: Project,
    *,
    pipeline: Pipeline | None = None,
    clock: Clock | None = None,
    database_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    tick_seconds: float = 5.0,
    shutdown_timeout: float = 10.0,
) -> BotdeskApp:
    """The app for ``project``; config.yml is read (and checked) now, everything else at start-up.

    ``pipeline``: a loaded model to use instead of loading (or training) the project's;
    ``database_url``: instead of config.yml's ``storage.url``/``BOTDESK_DATABASE_URL``;
    ``transport``: the network for the REST callback and the CRM adapters;
    ``tick_seconds``: how often the operator timers and retried deliveries run;
    ``shutdown_timeout``: how long shutdown waits for requests and workers.
    """
    config = project.config
    app = BotdeskApp(
        title="botdesk",
        version=bot.__version__,
        summary="FAQ bot with human handoff: channels, health and metrics",
        lifespan=lifespan,
    )
    channels = configured_channels(config, project.config_path)  # built now (no I/O), started later
    require_file_store(config.files, project.config_path)  # files.storage: a typo is one sentence now
    app.state.options = ServerOptions(
        project=project,
        pipeline=pipeline,
        clock=clock or utc_now,
        database_url=database_url,
        transport=transport,
        tick_seconds=tick_seconds,
        shutdown_timeout=shutdown_timeout,
        channels=tuple(channels),
    )
    app.state.metrics = Metrics()
    app.state.requests = InFlight()
    served = [channel.http() for channel in channels]
    app.lanes = {key: lane for http in served for key, lane in http.lanes.items()}  # before the stack
    # Body limits by path (the channels' own, then config.yml's server section), timeouts, JSON checks;
    # the connection limits are uvicorn's part (bot.server.connection_guard.uvicorn_config).
    app.server_settings = config.server
    app.guard = RequestGuard(
        config.server,
        route_limits={
            **{path: limit for http in served for path, limit in http.body_limits.items()},
            files.UPLOADS: config.files.max_bytes + UPLOAD_MARGIN,  # an operator's file to a customer
        },
        own_parsers={path for http in served for path in http.own_json},  # they parse with the same checks
    )
    validation_errors.install(app)  # 422s and logs without the values that failed
    app.add_middleware(InFlightMiddleware, tracker=app.state.requests)
    # Customers' channels first: routes are matched in order, and these carry the traffic.
    for http in served:
        if http.router is not None:
            app.include_router(http.router)
    app.include_router(files.router)  # customers' files (a Telegram photo, ...) for operators
    app.include_router(health.router)
    for api in (
        api_auth,
        api_queue,
        api_conversations,
        api_customers,
        api_events,
        api_labels,
    ):  # the panel's JSON API
        app.include_router(api.router)
    app.include_router(api_auth.pages)  # /panel/login and /panel/logout
    app.include_router(api_admin.router)  # admins: accounts, forgetting a customer
    app.include_router(panel.router)  # the operator workspace page
    app.include_router(dashboard.router)  # KPIs: /panel/dashboard and /api/kpis
    app.include_router(api_editor.router)  # the editor pages' API: inbox, labels, retrain, publish
    app.include_router(editor_page.router)  # /panel/editor
    panel.mount_static(app)  # its JavaScript and CSS under /panel/static
    app.add_exception_handler(PageForbidden, panel.forbidden_page)  # a page the role does not open
    unavailable.install(app)  # the database down mid-run: 503 with Retry-After, recovery without restart
    return app
