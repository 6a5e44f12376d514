"""Browser tests: botdesk under real uvicorn on 127.0.0.1, driven by headless Debian Chromium.

``live_server`` runs the app in a background thread (its own event loop), so tests are
plain synchronous functions that use Playwright's sync API. Each test gets a fresh
SQLite file, the session's trained default bot and the server tests' clock (noon in
Moscow: inside working hours, so handoffs queue for an operator). The panel admin's
password is set through ``BOTDESK_ADMIN_PASSWORD``; more operators come from
``live_server.add_operator``.

Chromium is Debian's (``/usr/bin/chromium``), installed by ``make test``; Playwright
uses it as it is, nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.server.app import create_app
from bot.store import Database, OperatorRole, create_operator
from tests.live import serving
from tests.server.conftest import Clock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ADMIN_PASSWORD = "admin-password-for-tests"
T = TypeVar("T")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


TITLES = {
    "product_availability": "Наличие товара", "delivery_terms": "Доставка", "store_address": "Адрес магазина",
    "working_hours": "Часы работы", "contacts": "Контакты", "human_request": "Позвать оператора",
    "complaint": "Жалоба", "callback_request": "Перезвонить мне", "order_status": "Где мой заказ",
    "order_cancel": "Отменить заказ", "change_order": "Изменить заказ", "payment_methods": "Способы оплаты",
    "discounts": "Скидки и акции", "price_request": "Цена товара", "return_policy": "Возврат товара",
    "warranty": "Гарантия", "greet": "Приветствие", "goodbye": "Прощание", "thanks": "Благодарность",
    "bot_challenge": "Вы бот?", "affirm": "Да", "deny": "Нет",
}  # fmt: skip


@dataclass
class TitledIntents:
    """What ``bot.server.i18n.IntentTitles`` reads from intent files that carry ``title:``.

    The NLU data format gains ``title:`` on another branch; until it is merged here, a server
    gets the default bot's titles this way (``app.state.intent_titles``), as its files state them.
    """

    titles: dict[str, str] = field(default_factory=lambda: dict(TITLES))
    intents: list[str] = field(default_factory=lambda: sorted(TITLES))

    def current(self) -> TitledIntents:
        return self


@dataclass
class LiveServer:
    """A running botdesk: its URL, its app (for ``app.state.botdesk``), its database."""

    url: str
    app: FastAPI
    database_url: str
    admin_password: str = ADMIN_PASSWORD
    _operators: int = field(default=0, repr=False)

    def add_operator(
        self,
        login: str,
        password: str,
        *,
        display_name: str | None = None,
        role: str = "operator",
        photo_url: str | None = None,
    ) -> int:
        """A panel account, written straight into the store; returns its id."""
        from argon2 import PasswordHasher

        async def add() -> int:
            async with Database.open(self.database_url) as db, db.session() as session:
                operator = await create_operator(
                    session,
                    login,
                    display_name or login.capitalize(),
                    role=OperatorRole(role),
                    password_hash=PasswordHasher().hash(password),
                    photo_url=photo_url,
                )
                await session.commit()
                return int(operator.id)

        return run_async(add())

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def customer_says(self, sender: str, text: str) -> list[dict[str, Any]]:
        """A REST customer's message; the bot's replies."""
        response = self.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from a sync test (Playwright's sync API holds this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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


def new_context(browser: Browser) -> BrowserContext:
    """A fresh browser profile (own cookies and localStorage): one person at one computer."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    context.set_default_timeout(10_000)
    return context


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


def screenshot(page: Page, name: str) -> None:
    """Keep a screenshot of a key screen in docs/screenshots when BOTDESK_SCREENSHOTS=1."""
    if os.environ.get("BOTDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
