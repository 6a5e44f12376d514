"""The KPI dashboard in headless Chromium, over a generated month of traffic (``botdesk demo-data``)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Page, expect

from bot.cli import main
from bot.project import Project
from tests.helpers.browser import LiveServer, screenshot

PASSWORD = "dashboard-password-1"


def log_in(page: Page, server: LiveServer, login: str) -> None:
    page.goto(server.url + "/panel/dashboard")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/panel/login'] button[type=submit]").click()
    expect(page.get_by_test_id("dashboard")).to_be_visible()


def overflowing_tables(page: Page) -> list[str]:
    """The tables wider than their card: cut off on the right, or only seen by scrolling sideways."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('.table-box')].flatMap((box) => {
            const table = box.querySelector('table');
            const padding = parseFloat(getComputedStyle(box).paddingRight);
            const right = box.getBoundingClientRect().right - padding;
            const wide = table.getBoundingClientRect().right > right + 0.5;
            const cut = wide || box.scrollWidth > box.clientWidth;
            return cut ? [box.dataset.testid] : [];
        })"""
    )
    return found


def test_the_dashboard_shows_a_month_of_demo_traffic(
    live_server: LiveServer, page: Page, trained_ru: Project
) -> None:
    demo = ["demo-data", "--project", str(trained_ru.root), "--url", live_server.database_url, "--seed", "11"]
    with ThreadPoolExecutor(1) as pool:  # the CLI runs its own event loop; Playwright holds this thread's
        assert pool.submit(main, demo).result() == 0
    live_server.add_operator("olga", PASSWORD, display_name="Ольга", role="admin")
    live_server.add_operator("anna", PASSWORD, display_name="Анна")  # like the demo's demo-anna "Анна"
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server, "olga")

    dialogues = page.get_by_test_id("kpi-dialogues-value")
    expect(dialogues).to_have_text(re.compile(r"^\d[\d\s]{2,}$"))  # a month: hundreds ("1 044" in Russian)
    for key in ("first_response", "resolution", "containment", "handoff_rate", "csat_bot", "csat_operator"):
        expect(page.get_by_test_id(f"kpi-{key}-value")).not_to_have_text("—")
    expect(page.get_by_test_id("kpi-containment-value")).to_have_text(re.compile(r"^\d+,\d\s?%$"))  # Russian
    expect(page.get_by_test_id("kpi-first_response-value")).to_have_text(re.compile(r"^\d+ (мин|с)"))
    for chart in ("chart-by-day", "chart-by-hour", "chart-reasons", "chart-top-intents"):
        expect(page.get_by_test_id(chart).locator("rect.bar").first).to_be_visible()
    assert page.get_by_test_id("chart-by-hour").locator("rect.bar").count() == 24
    expect(page.get_by_test_id("chart-reasons")).to_contain_text("попросил человека")  # not human_request
    expect(page.get_by_test_id("chart-reasons")).not_to_contain_text("human_request")
    expect(page.get_by_test_id("table-operators").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("table-unrecognised")).to_contain_text("промокод не работает")
    expect(page.get_by_test_id("table-channel")).to_contain_text("Чат на сайте")  # not "web"
    expect(page.get_by_test_id("table-department")).to_contain_text("Поддержка")  # not "support"
    expect(page.get_by_test_id("table-bot_vs_human")).to_contain_text("с человеком")

    # At a laptop's 1440 px every table fits its card: nothing cut on the right ("CSAT op.").
    assert page.get_by_test_id("table-channel").locator("th").last.is_visible()
    assert overflowing_tables(page) == []
    # Each account once in the operator filter, told apart when two share a name.
    options = page.get_by_test_id("filter-operator").locator("option")
    values = [v for v in options.evaluate_all("(all) => all.map((o) => o.value)") if v]
    labels = [t for t in options.all_inner_texts()][1:]
    assert sorted(values) == sorted(["admin", "anna", "demo-anna", "demo-boris", "demo-vera", "olga"])
    assert len(set(labels)) == len(labels), labels
    assert "Анна (anna)" in labels and "Анна (demo-anna)" in labels
    expect(page.get_by_test_id("chart-top-intents")).to_contain_text("Где мой заказ")  # titles, not ids
    page.set_viewport_size({"width": 1440, "height": 1900})  # the same width: the whole page for the docs
    screenshot(page, "dashboard")
    page.set_viewport_size({"width": 1440, "height": 900})

    def count() -> int:
        return int(re.sub(r"\s", "", dialogues.inner_text()))

    month, shown = count(), dialogues.inner_text()
    page.get_by_role("button", name="7 дней").click()
    expect(dialogues).not_to_have_text(shown)
    assert 0 < count() < month
    page.get_by_test_id("filter-channel").select_option("telegram")
    expect(page).to_have_url(re.compile(r"channel=telegram"))
    assert "department=" not in page.url  # empty filters stay out of the address
    assert overflowing_tables(page) == []

    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("kpi,value,from,to,timezone") and "\ndialogues," in text


def test_the_workspace_links_to_the_dashboard(live_server: LiveServer, page: Page) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Анна")
    page.goto(live_server.url + "/panel")
    page.locator("input[name=login]").fill("anna")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/panel/login'] button[type=submit]").click()
    page.get_by_test_id("to-dashboard").click()
    expect(page.get_by_test_id("kpi-dialogues-value")).to_have_text("0")
    expect(page.get_by_test_id("chart-by-day")).to_contain_text("За этот период данных нет.")
