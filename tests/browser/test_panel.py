"""The operator panel in headless Chromium: login, the live queue, a dialogue worked end to end.

Customers write through the REST webhook (``live_server.customer_says``) while the
operator's page is open; nothing is reloaded by the test, so what appears came over
the panel's WebSocket.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from bot.conversation import ConversationService
from bot.messages import InboundMessage
from bot.store import Database
from tests.helpers.browser import LiveServer, run_async
from tests.helpers.server import Clock

PASSWORD = "correct-horse-battery"
ASK_FOR_PERSON = "Позовите оператора, пожалуйста"
HI = "Здравствуйте! Меня зовут Анна, я помогу разобраться."
ANSWERING = "Этот диалог ведёте вы."
SCRIPT = "<script>window.__xss = 'script'; alert('script')</script>"
IMAGE = "<img src=x onerror=\"window.__xss = 'img'; alert('img')\">"


def log_in(page: Page, server: LiveServer, login: str, display_name: str) -> None:
    """Log in through the form and wait until the panel is live (its WebSocket is open)."""
    page.goto(server.url + "/panel")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/panel/login'] button[type=submit]").click()
    expect(page.get_by_test_id("operator-name")).to_have_text(display_name)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def open_dialogue(page: Page) -> Locator:
    return page.locator("[data-testid=dialogue]:visible")


def messages(dialogue: Locator, sender: str) -> Locator:
    return dialogue.locator(f"[data-testid=message][data-sender={sender}]")


def polled(server: LiveServer, sender: str) -> list[dict[str, Any]]:
    """What the REST customer gets when polling for later messages."""
    response = server.get("/webhooks/rest/messages", params={"sender": sender, "after": 0})
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()
    return items


def test_the_panel_without_a_session_sends_to_the_login_form(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/panel")

    url = urlparse(page.url)
    assert url.path == "/panel/login"
    assert parse_qs(url.query)["next"] == ["/panel"]
    expect(page.locator("input[name=password]")).to_be_visible()
    expect(page.get_by_test_id("queue")).to_have_count(0)


def test_an_operator_takes_a_handoff_answers_with_a_quick_phrase_and_returns_it_to_the_bot(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Анна")
    log_in(page, live_server, "anna", "Анна")
    expect(page.get_by_test_id("waiting-empty")).to_be_visible()

    live_server.customer_says("rest-ivan", ASK_FOR_PERSON)

    item = page.get_by_test_id("queue-item")
    expect(item).to_have_count(1)
    expect(item.get_by_test_id("queue-reason")).to_have_text("попросил человека")
    expect(item.get_by_test_id("queue-last-message")).to_have_text(ASK_FOR_PERSON)
    expect(item.get_by_test_id("queue-channel")).to_have_text("REST API")

    item.get_by_test_id("take").click()

    dialogue = open_dialogue(page)
    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text(ANSWERING)
    expect(dialogue.get_by_test_id("note-reason")).to_have_text("попросил человека")
    expect(dialogue.get_by_test_id("note-detail")).to_have_text("клиент попросил человека")
    expect(messages(dialogue, "customer").get_by_test_id("message-text")).to_have_text([ASK_FOR_PERSON])
    expect(messages(dialogue, "customer").get_by_test_id("message-intent")).not_to_contain_text(
        "human_request"
    )
    expect(messages(dialogue, "bot").first).to_be_visible()  # the bot's part is in the history too
    joined = messages(dialogue, "system").get_by_test_id("message-text").last
    expect(joined).to_have_text("Анна (оператор) подключилась к чату.")  # agrees with her name
    expect(page.get_by_test_id("queue-item")).to_have_count(0)
    expect(page.get_by_test_id("mine-item")).to_have_count(1)
    expect(dialogue.get_by_test_id("quick-phrase")).to_have_count(4)  # the list is visible

    reply = dialogue.get_by_test_id("reply-input")
    reply.fill("/hi")
    reply.press("Tab")
    expect(reply).to_have_value(HI)
    dialogue.get_by_test_id("send").click()

    sent = messages(dialogue, "operator")
    expect(sent.get_by_test_id("message-text")).to_have_text([HI])
    expect(sent.get_by_test_id("message-sender")).to_have_text(["Анна (оператор)"])
    expect(reply).to_have_value("")
    told = [m for m in polled(live_server, "rest-ivan") if m["sender"] == "operator"]
    assert [(m["text"], m["sender_name"]) for m in told] == [(HI, "Анна")]

    dialogue.get_by_test_id("return-to-bot").click()

    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text("Диалог возвращён боту.")
    expect(dialogue.get_by_test_id("reply-input")).to_be_disabled()
    expect(page.get_by_test_id("mine-item")).to_have_count(0)
    assert polled(live_server, "rest-ivan")[-1]["text"].startswith("Вы снова общаетесь с ботом.")
    answer = live_server.customer_says("rest-ivan", "Сколько стоит доставка?")
    assert answer and all(item["sender"] == "bot" for item in answer)
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_what_a_customer_types_is_shown_as_text_and_never_runs(live_server: LiveServer, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    log_in(page, live_server, "anna", "Anna")

    first = f"{IMAGE} позовите оператора"
    live_server.customer_says("rest-mallory", first)
    item = page.get_by_test_id("queue-item")
    expect(item.get_by_test_id("queue-last-message")).to_have_text(first)
    item.get_by_test_id("take").click()
    dialogue = open_dialogue(page)
    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text(ANSWERING)

    live_server.customer_says("rest-mallory", SCRIPT)

    texts = messages(dialogue, "customer").get_by_test_id("message-text")
    expect(texts).to_have_text([first, SCRIPT])
    expect(dialogue.get_by_test_id("note-summary")).to_be_attached()
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert page.js_errors == []  # type: ignore[attr-defined]


FAKE_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  constructor(title, options) { window.__notifications.push({ title, body: options && options.body }); }
  close() {}
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def test_a_handoff_notifies_and_unread_messages_count_in_tabs_and_title(
    live_server: LiveServer, page: Page
) -> None:
    page.add_init_script(FAKE_NOTIFICATIONS)
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    log_in(page, live_server, "anna", "Anna")

    live_server.customer_says("rest-first", ASK_FOR_PERSON)
    page.wait_for_function("() => window.__notifications.length === 1")
    notification = page.evaluate("window.__notifications[0]")
    assert notification["body"] == ASK_FOR_PERSON
    assert notification["title"] == "Клиент №1 ждёт оператора"
    page.get_by_test_id("take").click()
    expect(page.get_by_test_id("tab")).to_have_count(1)

    live_server.customer_says("rest-second", "Соедините с живым человеком")
    page.wait_for_function("() => window.__notifications.length === 2")
    page.get_by_test_id("take").click()
    tabs = page.get_by_test_id("tab")
    expect(tabs).to_have_count(2)
    expect(tabs.nth(1)).to_have_class("tab active")
    expect(page).to_have_title("botdesk — панель оператора")

    live_server.customer_says("rest-first", "Вы тут?")
    live_server.customer_says("rest-first", "Ау")

    expect(tabs.nth(0).get_by_test_id("unread")).to_have_text("2")
    expect(page).to_have_title("(2) botdesk — панель оператора")
    expect(page.get_by_test_id("mine-item").get_by_test_id("unread").filter(visible=True)).to_have_text(["2"])
    expect(tabs.nth(1).get_by_test_id("unread")).to_be_hidden()

    tabs.nth(0).get_by_test_id("tab-open").click()

    expect(tabs.nth(0).get_by_test_id("unread")).to_be_hidden()
    expect(page).to_have_title("botdesk — панель оператора")
    expect(messages(open_dialogue(page), "customer").get_by_test_id("message-text").last).to_have_text("Ау")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_taking_a_dialogue_someone_else_took_says_why(live_server: LiveServer, page: Page) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    live_server.add_operator("boris", PASSWORD, display_name="Boris")
    page.route_web_socket("**/api/events", lambda ws: None)  # Anna's live feed says nothing
    live_server.customer_says("rest-olga", ASK_FOR_PERSON)
    log_in(page, live_server, "anna", "Anna")
    item = page.get_by_test_id("queue-item")
    expect(item).to_have_count(1)

    with httpx.Client(base_url=live_server.url, timeout=10) as boris:
        csrf = boris.post("/api/login", json={"login": "boris", "password": PASSWORD}).json()["csrf_token"]
        ticket = boris.get("/api/queue").json()["waiting"][0]["ticket_id"]
        boris.post(f"/api/tickets/{ticket}/claim", headers={"X-CSRF-Token": csrf}).raise_for_status()
    item.get_by_test_id("take").click()

    toast = page.get_by_test_id("toast")
    expect(toast).to_have_count(1)
    expect(toast).to_have_attribute("role", "alert")
    expect(toast.locator("span")).to_have_text("Этот диалог уже взят: Boris")  # a Latin name: neutral
    expect(page.get_by_test_id("queue-item")).to_have_count(0)  # reloaded: nobody is waiting now
    expect(page.get_by_test_id("tab")).to_have_count(0)


def test_the_live_feed_reconnects_by_itself(live_server: LiveServer, page: Page) -> None:
    attempts: list[WebSocketRoute] = []

    def flaky(ws: WebSocketRoute) -> None:
        attempts.append(ws)
        if len(attempts) == 1:
            ws.close(code=1011, reason="server restarting")
        else:
            ws.connect_to_server()

    page.route_web_socket("**/api/events", flaky)
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    log_in(page, live_server, "anna", "Anna")  # waits for "live": only the second connection gets there

    live_server.customer_says("rest-pavel", ASK_FOR_PERSON)

    expect(page.get_by_test_id("queue-item")).to_have_count(1)
    assert len(attempts) >= 2  # the first connection was closed: the item came after a reconnect


def take_first(page: Page, server: LiveServer, sender: str) -> Locator:
    """A REST customer asks for a person; the operator takes the dialogue; its view."""
    server.customer_says(sender, ASK_FOR_PERSON)
    page.get_by_test_id("queue-item").get_by_test_id("take").click()
    dialogue = open_dialogue(page)
    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text(ANSWERING)
    return dialogue


def test_the_reply_box_offers_quick_phrases_and_suggested_answers(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    log_in(page, live_server, "anna", "Anna")
    dialogue = take_first(page, live_server, "rest-nina")
    reply = dialogue.get_by_test_id("reply-input")
    menu = dialogue.get_by_test_id("quick-phrase-menu")

    reply.press_sequentially("/")
    expect(menu.get_by_test_id("quick-phrase-option")).to_have_count(4)
    reply.press_sequentially("w")
    expect(menu.get_by_test_id("quick-phrase-option")).to_have_text(["/waitМинуту, уточняю информацию."])
    reply.press("Enter")  # picks the highlighted phrase, does not send
    expect(reply).to_have_value("Минуту, уточняю информацию.")
    expect(menu).to_be_hidden()

    live_server.customer_says("rest-nina", "а сколько стоит доставка в Казань?")
    chip = dialogue.get_by_test_id("suggestion").first  # follows the customer's latest message
    expect(chip).to_contain_text("390")
    suggested = chip.text_content() or ""
    assert "подключу" not in suggested
    chip.click()
    expect(reply).to_have_value(f"Минуту, уточняю информацию. {suggested}")

    reply.fill("")
    dialogue.get_by_test_id("quick-phrase").filter(has_text="/bye").click()
    expect(reply).to_have_value("Спасибо за обращение! Хорошего дня.")
    reply.press("Enter")
    expect(messages(dialogue, "operator").get_by_test_id("message-text")).to_have_text(
        ["Спасибо за обращение! Хорошего дня."]
    )
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_notes_stay_private_a_lead_needs_consent_and_a_closed_dialogue_is_read_only(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    log_in(page, live_server, "anna", "Anna")
    dialogue = take_first(page, live_server, "rest-oleg")

    dialogue.get_by_test_id("note-input").fill("Постоянный клиент, <b>VIP</b>")
    dialogue.get_by_test_id("add-note").click()
    note = dialogue.get_by_test_id("note")
    expect(note.locator("p")).to_have_text("Постоянный клиент, <b>VIP</b>")
    expect(note).to_contain_text("Anna")
    assert all("VIP" not in m["text"] for m in polled(live_server, "rest-oleg"))

    lead = dialogue.get_by_test_id("lead-form")
    lead.get_by_test_id("lead-name").fill("Олег")
    lead.get_by_test_id("lead-phone").fill("+7 916 123-45-67")
    lead.get_by_test_id("lead-interest").fill("велосипед, доставка")
    lead.get_by_test_id("lead-submit").click()
    expect(lead.get_by_test_id("lead-result")).to_contain_text("Без согласия клиента")
    lead.get_by_test_id("lead-consent").check()
    lead.get_by_test_id("lead-submit").click()
    expect(lead.get_by_test_id("lead-result")).to_have_text(  # the default bot has no CRM: says so honestly
        "Карточка лида №1 сохранена. CRM не подключена: карточка ждёт в botdesk, пока её не подключат."
    )

    dialogue.get_by_test_id("resolution").fill("answered")
    dialogue.get_by_test_id("close-ticket").click()

    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text("Диалог завершён.")
    expect(dialogue.get_by_test_id("reply-input")).to_be_disabled()
    expect(dialogue.get_by_test_id("return-to-bot")).to_be_disabled()
    expect(page.get_by_test_id("mine-item")).to_have_count(0)
    page.reload()  # what was stored, not just what the page appended
    dialogue = open_dialogue(page)
    expect(dialogue.get_by_test_id("note").locator("p")).to_have_text("Постоянный клиент, <b>VIP</b>")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_transfer_goes_to_the_chosen_colleague_and_the_status_toggle_is_stored(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    boris = live_server.add_operator("boris", PASSWORD, display_name="Борис")
    log_in(page, live_server, "anna", "Anna")
    dialogue = take_first(page, live_server, "rest-vera")

    dialogue.get_by_test_id("transfer-target").select_option(f"operator:{boris}")
    dialogue.get_by_test_id("transfer").click()

    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text("Борис взял этот диалог и отвечает.")
    expect(page.get_by_test_id("mine-item")).to_have_count(0)

    toggle = page.get_by_test_id("status-toggle")
    expect(toggle).to_have_attribute("data-status", "online")  # logging in makes one online
    toggle.click()
    expect(toggle).to_have_attribute("data-status", "away")
    expect(toggle).to_have_attribute("aria-checked", "false")
    page.reload()
    expect(page.get_by_test_id("status-toggle")).to_have_attribute("data-status", "away")
    assert page.js_errors == []  # type: ignore[attr-defined]

    page.get_by_test_id("logout").click()
    expect(page.locator("input[name=password]")).to_be_visible()
    page.goto(live_server.url + "/panel")
    assert urlparse(page.url).path == "/panel/login"  # the session is gone, not just the page


def test_a_waiting_dialogue_can_be_viewed_before_taking_it_and_filtered_by_department(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    live_server.customer_says("rest-lena", ASK_FOR_PERSON)
    log_in(page, live_server, "anna", "Anna")

    page.get_by_test_id("department-filter").select_option(label="Поддержка")
    item = page.get_by_test_id("queue-item")
    expect(item).to_have_count(1)
    page.reload()
    expect(page.get_by_test_id("department-filter")).to_have_value("support")  # remembered

    page.get_by_test_id("queue-item").get_by_test_id("view").click()
    dialogue = open_dialogue(page)
    expect(dialogue.get_by_test_id("dialogue-state")).to_contain_text("Ждёт в очереди (попросил человека)")
    expect(dialogue.get_by_test_id("reply-input")).to_be_disabled()
    expect(dialogue.get_by_test_id("return-to-bot")).to_be_disabled()

    dialogue.get_by_test_id("dialogue-take").click()

    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text(ANSWERING)
    expect(dialogue.get_by_test_id("reply-input")).to_be_enabled()
    expect(dialogue.get_by_test_id("dialogue-take")).to_be_hidden()
    expect(page.get_by_test_id("tab")).to_have_count(1)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def telegram_customer_sends_a_photo_presses_yes_and_asks_for_a_person(server: LiveServer) -> None:
    """Straight through the services, into the live server's database (no fake Telegram needed)."""
    options = server.app.state.options
    project, pipeline = options.project, options.pipeline
    async with Database.open(server.database_url) as db:
        service = ConversationService(
            project.config, db.turns, lambda: pipeline, project.engine(seed=0), clock=Clock()
        )
        photo = {
            "type": "photo",
            "file_id": "AgAD-photo_1",
            "caption": "сломанный руль",
            "url": "/api/files/telegram/AgAD-photo_1",
        }
        await service.handle(InboundMessage("telegram", "4242", "", "1", (photo,)))
        yes = {"kind": "button", "title": "Да", "payload": "/affirm"}
        await service.handle(InboundMessage("telegram", "4242", "/affirm", "2", (yes,)))
        await service.handle(InboundMessage("telegram", "4242", ASK_FOR_PERSON, "3"))


def test_a_telegram_photo_is_a_link_through_the_server_and_a_pressed_button_shows_its_title(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    run_async(telegram_customer_sends_a_photo_presses_yes_and_asks_for_a_person(live_server))
    log_in(page, live_server, "anna", "Anna")
    page.get_by_test_id("queue-item").get_by_test_id("take").click()
    dialogue = open_dialogue(page)

    link = dialogue.get_by_test_id("attachment-link")
    expect(link).to_have_attribute("href", "/api/files/telegram/AgAD-photo_1")
    expect(link).to_have_text("фото · сломанный руль")
    expect(dialogue.get_by_test_id("pressed-button")).to_have_text("нажата кнопка «Да»")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def telegram_customer_leaves_her_number(server: LiveServer) -> None:
    """A Telegram customer with a history who typed her number into the call-back form."""
    options = server.app.state.options
    project, pipeline = options.project, options.pipeline
    async with Database.open(server.database_url) as db:
        service = ConversationService(
            project.config, db.turns, lambda: pipeline, project.engine(seed=0), clock=Clock()
        )
        profile = {"first_name": "Вера", "last_name": "Викторовна"}
        for number, text in enumerate(
            ["где мой заказ 5521?", "перезвоните мне", "Вера", "+79123456789", "да"]
        ):
            await service.handle(InboundMessage("telegram", "5151", text, str(number), profile=profile))


def test_a_typed_number_is_only_a_suggestion_until_the_operator_merges(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna")
    run_async(telegram_customer_leaves_her_number(live_server))
    for text in ["перезвоните мне", "Вася", "+7 912 345-67-89", "да"]:
        live_server.customer_says("rest-typist", text)
    live_server.customer_says("rest-typist", ASK_FOR_PERSON)
    log_in(page, live_server, "anna", "Anna")
    page.get_by_test_id("queue-item").get_by_test_id("take").click()
    dialogue = open_dialogue(page)

    card = dialogue.get_by_test_id("customer-card")
    expect(card.get_by_test_id("customer-phone")).to_have_text(
        "+79123456789 (введён клиентом, не подтверждён)"
    )
    match = card.get_by_test_id("customer-match")
    expect(match).to_have_count(1)
    expect(match).to_contain_text("Вера Викторовна")
    expect(card.get_by_test_id("customer-name")).not_to_have_text("Вера Викторовна")
    expect(dialogue.get_by_test_id("message").filter(has_text="где мой заказ 5521?")).to_have_count(0)

    page.once("dialog", lambda prompt: prompt.accept())
    match.get_by_test_id("customer-merge").click()

    expect(card.get_by_test_id("customer-name")).to_have_text("Вера Викторовна")
    expect(dialogue.get_by_test_id("message").filter(has_text="где мой заказ 5521?")).to_have_count(1)
    expect(card.get_by_test_id("customer-matches")).to_be_hidden()
    assert page.js_errors == []  # type: ignore[attr-defined]
