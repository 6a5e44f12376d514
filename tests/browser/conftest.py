"""Browser tests: botdesk under real uvicorn on 127.0.0.1, driven by headless Debian Chromium.

``live_server`` runs the app in a background thread (its own event loop), so tests are
plain synchronous functions that use Playwright's sync API. Each test gets a fresh
SQLite file, the session's trained default bot and the server tests' clock (noon in
Moscow: inside working hours, so handoffs queue for an operator). The panel admin's
password is set through ``BOTDESK_ADMIN_PASSWORD``; more operators come from
``live_server.add_operator``.

Chromium is Debian's (``/usr/bin/chromium``), installed by ``make test``; Playwright
uses it as it is, nothing is downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.server.app import create_app
from tests.helpers.browser import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, LiveServer, new_context
from tests.helpers.server import Clock
from tests.live import serving

# A loaded 2-core CI machine runs two test workers beside the browser and the server: what
# the page should show is waited for up to 15 s (Playwright's 5 s default failed there once).
expect.set_options(timeout=15_000)


@pytest.fixture
def live_server(
    trained_ru: Project, ru_pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    monkeypatch.setenv("BOTDESK_ADMIN_PASSWORD", ADMIN_PASSWORD)
    database_url = f"sqlite:///{tmp_path / 'live.db'}"
    app = create_app(
        trained_ru,
        pipeline=ru_pipeline,
        clock=Clock(),
        database_url=database_url,
        tick_seconds=0.2,
        shutdown_timeout=5.0,
    )
    with serving(app) as url:
        yield LiveServer(url, app, database_url)


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is started, and pytest-asyncio cannot run the async tests of other
# modules inside it. So a browser module holds only synchronous tests.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page that fails the test on any JavaScript error it raises."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def second_context(browser: Browser) -> Iterator[BrowserContext]:
    """Another person (the operator while ``context`` is the customer, say)."""
    context = new_context(browser)
    yield context
    context.close()
