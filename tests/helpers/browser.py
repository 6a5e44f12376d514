"""Headless Chromium and a live botdesk for the browser tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.store import Database, OperatorRole, create_operator

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


def new_context(browser: Browser) -> BrowserContext:
    """A fresh browser profile (own cookies and localStorage): one person at one computer."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    context.set_default_timeout(10_000)
    return context


def screenshot(page: Page, name: str) -> None:
    """Keep a screenshot of a key screen in docs/screenshots when BOTDESK_SCREENSHOTS=1."""
    if os.environ.get("BOTDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def mobile_context(browser: Browser) -> BrowserContext:
    """A phone's browser: 390×844, touch, the mobile viewport rules."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="ru-RU"
    )
    context.set_default_timeout(10_000)
    return context


def panel_log_in(page: Page, server: LiveServer, login: str, password: str, display_name: str) -> None:
    """Log in through the panel's form and wait until it is live (its feed open: the operator is present)."""
    page.goto(server.url + "/panel")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/panel/login'] button[type=submit]").click()
    expect(page.get_by_test_id("operator-name")).to_have_text(display_name)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def open_widget(page: Page, url: str) -> None:
    """The page with the chat window opened and its socket live."""
    page.goto(url)
    page.locator(".bd-launcher").click()
    expect(page.locator(".bd-window")).to_be_visible()
    expect(page.locator("#botdesk-widget")).to_have_attribute("data-connection", "live")


def widget_says(page: Page, text: str) -> None:
    """The customer types ``text`` into the widget and presses Enter."""
    page.locator(".bd-input").fill(text)
    page.locator(".bd-input").press("Enter")
