"""The panel in the operator's language, in headless Chromium: a Russian operator meets no English
text and no raw id on any page; switched to English, the same pages are English; admins edit the
quick phrases the reply box offers.

Intent titles come from the intent files' ``title:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Page, expect

from bot.i18n.catalog import LOCALE_DIR
from bot.i18n.names import CHANNELS, REASONS, ROLES, SLOTS, STATUSES
from bot.nlu.data import intent_files, load_training_data
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.server.app import create_app
from tests.helpers.browser import ADMIN_PASSWORD, LiveServer, screenshot
from tests.helpers.projects import REPO
from tests.helpers.server import Clock
from tests.live import serving

PASSWORD = "language password 1"


@pytest.fixture
def titled_server(
    trained_ru: Project, ru_pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    monkeypatch.setenv("BOTDESK_ADMIN_PASSWORD", ADMIN_PASSWORD)
    database_url = f"sqlite:///{tmp_path / 'language.db'}"
    app = create_app(
        trained_ru, pipeline=ru_pipeline, clock=Clock(), database_url=database_url, tick_seconds=0.2
    )
    with serving(app) as url:
        yield LiveServer(url, app, database_url)


def english_texts() -> list[re.Pattern[str]]:
    """The panel's own English texts (the catalog's ids whose Russian differs), as patterns to look for."""
    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "botdesk.po").open("rb") as source:
        catalog = read_po(source, locale="ru")
    patterns = []
    for entry in catalog:
        if not entry.id or entry.context:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for message in ids:
            if message in strings:
                continue  # the same in both ("Telegram", "CSAT")
            fragments = [f.strip(" .:;,()") for f in re.split(r"\{[^}]*\}", message)]
            longest = max(fragments, key=len)
            if len(longest) >= 4 and re.search("[A-Za-z]{3}", longest):
                patterns.append(
                    re.compile(r"(?<![\w/.{-])" + re.escape(longest) + r"(?![\w/}-])")
                )  # not {operator}
    return patterns


TITLES = load_training_data(intent_files(REPO / "intents")).titles  # the default bot's own
RAW_IDS = [*TITLES, *REASONS, *SLOTS, *ROLES, *STATUSES, "support", *(c for c in CHANNELS if c != "telegram")]


def shown_text(page: Page) -> str:
    """What the operator reads: the visible text, the placeholders, tooltips and labels, the title."""
    return str(
        page.evaluate(
            """() => [document.title, document.body.innerText,
                ...[...document.querySelectorAll('[placeholder],[title],[aria-label]')]
                   .filter((e) => e.offsetParent !== null || e.tagName === 'TEXTAREA')
                   .flatMap((e) => ['placeholder', 'title', 'aria-label'].map((a) => e.getAttribute(a)))
                   .filter(Boolean)].join('\\n')"""
        )
    )


def assert_russian(page: Page, where: str, *, intent_ids: bool = False) -> None:
    """No English text, no raw id (``intent_ids``: the editor page names intents by title *and* id,
    the name an editor writes into intents/*.yml)."""
    text = shown_text(page)
    english = [p.pattern for p in english_texts() if p.search(text)]
    assert english == [], f"{where}: English texts shown to a Russian operator"
    ids = [i for i in RAW_IDS if not (intent_ids and i in TITLES)]
    raw = [i for i in ids if re.search(rf"(?<![\w/{{-]){re.escape(i)}(?![\w}}-])", text)]
    assert raw == [], f"{where}: raw ids shown"
    assert page.evaluate("document.documentElement.lang") == "ru"


def log_in(page: Page, server: LiveServer, login: str, path: str = "/panel") -> None:
    page.goto(server.url + path)
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/panel/login'] button[type=submit]").click()


def test_a_russian_operator_meets_no_english_and_no_raw_id(titled_server: LiveServer, page: Page) -> None:
    server = titled_server
    server.add_operator("olga", PASSWORD, display_name="Ольга", role="admin")
    server.customer_says("rest-ira", "сколько стоит доставка по Москве?")
    server.customer_says("rest-ira", "нет, спасибо")
    server.customer_says("rest-ira", "Позовите оператора, пожалуйста")
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, server, "olga")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    item = page.get_by_test_id("queue-item")
    expect(item.get_by_test_id("queue-reason")).to_have_text("попросил человека")
    expect(item.get_by_test_id("queue-intent")).to_contain_text("Позвать оператора")
    assert_russian(page, "the queue")
    screenshot(page, "panel-queue")

    item.get_by_test_id("take").click()
    dialogue = page.locator("[data-testid=dialogue]:visible")
    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text("Этот диалог ведёте вы.")
    expect(dialogue.get_by_test_id("note-intent")).to_contain_text("Позвать оператора")
    expect(dialogue.get_by_test_id("note-summary").locator("li")).to_have_count(1)  # the delivery answer
    expect(dialogue.get_by_test_id("note-summary")).to_contain_text("390 ₽")  # either wording of the answer
    expect(dialogue.get_by_test_id("lead-interest")).to_have_value("Доставка")  # not "delivery_terms"
    server.customer_says("rest-ira", "а в Казань доставите?")
    expect(dialogue.get_by_test_id("suggestion").first).to_be_visible()
    reply = dialogue.get_by_test_id("reply-input")
    reply.fill("/hi")
    reply.press("Tab")
    expect(reply).to_have_value("Здравствуйте! Меня зовут Ольга, я помогу разобраться.")
    assert_russian(page, "a dialogue")
    screenshot(page, "panel-dialogue")

    for path, testid in (
        ("/panel/dashboard", "dashboard"),
        ("/panel/editor", "editor"),
        ("/panel/settings", "settings"),
        ("/panel/admin", "phrases-admin"),
    ):
        page.goto(server.url + path)
        expect(page.get_by_test_id(testid)).to_be_visible()
        if testid == "editor":
            expect(page.get_by_test_id("editor")).to_have_attribute("data-ready", "true")
        if testid == "phrases-admin":
            expect(page.get_by_test_id("phrase-row")).to_have_count(4)
        assert_russian(page, path, intent_ids=testid == "editor")
        if testid == "settings":  # the dashboard and the editor are shown with data by their own tests
            screenshot(page, "settings-ru")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_switched_to_english_the_panel_is_english(titled_server: LiveServer, page: Page) -> None:
    server = titled_server
    server.add_operator("anna", PASSWORD, display_name="Анна")
    server.customer_says("rest-ivan", "Позовите оператора, пожалуйста")
    log_in(page, server, "anna", "/panel/settings")
    expect(page.get_by_test_id("settings-joined")).to_have_text("Анна (оператор) подключилась к чату.")
    page.get_by_test_id("settings-language").select_option("en")
    page.get_by_test_id("settings-gender").select_option("male")  # her own choice beats the name
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-saved")).to_have_text("Saved.")
    expect(page.get_by_test_id("settings-joined")).to_have_text("Анна (оператор) подключился к чату.")
    assert page.evaluate("document.documentElement.lang") == "en"

    page.get_by_test_id("to-workspace").click()
    item = page.get_by_test_id("queue-item")
    expect(item.get_by_test_id("queue-reason")).to_have_text("asked for a person")
    expect(item.get_by_test_id("take")).to_have_text("Take")
    expect(item.get_by_test_id("queue-channel")).to_have_text("REST API")
    expect(page.get_by_test_id("status-label")).to_have_text("Online")
    item.get_by_test_id("take").click()
    expect(page.get_by_test_id("dialogue-state").filter(visible=True)).to_have_text(
        "You are answering this dialogue."
    )
    expect(page).to_have_title("botdesk panel")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_admins_edit_the_quick_phrases_the_reply_box_offers(titled_server: LiveServer, page: Page) -> None:
    server = titled_server
    server.add_operator("olga", PASSWORD, display_name="Ольга", role="admin")
    log_in(page, server, "olga", "/panel/admin")
    rows = page.get_by_test_id("phrase-row")
    expect(rows).to_have_count(4)  # config.yml's, stored on first start
    form = page.get_by_test_id("phrase-form")
    form.get_by_test_id("phrase-shortcut").fill("/Спасибо")
    form.get_by_test_id("phrase-text").fill("Спасибо, что написали! Меня зовут {operator}.")
    form.get_by_test_id("phrase-add").click()
    expect(rows).to_have_count(5)
    expect(page.get_by_test_id("toast").last).to_have_text("Фраза /спасибо добавлена.")
    form.get_by_test_id("phrase-shortcut").fill("/hi")
    form.get_by_test_id("phrase-text").fill("дубль")
    form.get_by_test_id("phrase-add").click()
    expect(page.get_by_test_id("toast").last).to_have_text("сокращение /hi уже занято")
    bye = rows.filter(has=page.locator("input[value='/bye']"))
    page.once("dialog", lambda prompt: prompt.accept())
    bye.get_by_test_id("row-delete").click()
    expect(rows).to_have_count(4)
    screenshot(page, "admin-phrases")

    server.customer_says("rest-kate", "Позовите оператора, пожалуйста")
    page.goto(server.url + "/panel")
    page.get_by_test_id("queue-item").get_by_test_id("take").click()
    dialogue = page.locator("[data-testid=dialogue]:visible")
    phrases = dialogue.get_by_test_id("quick-phrase")
    expect(phrases).to_have_count(4)
    expect(phrases.filter(has_text="/bye")).to_have_count(0)
    reply = dialogue.get_by_test_id("reply-input")
    reply.press_sequentially("/спа")
    reply.press("Tab")
    expect(reply).to_have_value("Спасибо, что написали! Меня зовут Ольга.")
    assert page.js_errors == []  # type: ignore[attr-defined]
