"""The web chat widget on the demo shop page, in headless Chromium.

The customer's side is the real page with the real ``<script src="/widget.js">``; the
operator works through the panel's JSON API (login, claim, reply, return), so what the
widget shows came over its WebSocket.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.helpers.browser import LiveServer, screenshot

PASSWORD = "correct-horse-battery"
XSS = "<img src=x onerror=\"window.__xss = 'img'\"><script>window.__xss = 'script'</script>"


def open_widget(page: Page, url: str) -> Locator:
    """The page with the chat window opened and connected; returns the widget's host element."""
    page.goto(url)
    widget = page.locator("#botdesk-widget")
    page.locator(".bd-launcher").click()
    expect(page.locator(".bd-window")).to_be_visible()
    expect(widget).to_have_attribute("data-connection", "live")
    return widget


def write(page: Page, text: str) -> None:
    page.locator(".bd-input").fill(text)
    page.locator(".bd-input").press("Enter")


def log_in(client: httpx.Client, login: str) -> dict[str, str]:
    """The operator API's session (a cookie in ``client``); returns the CSRF header for its POSTs."""
    response = client.post("/api/login", json={"login": login, "password": PASSWORD})
    response.raise_for_status()
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def waiting_web_ticket(client: httpx.Client) -> dict[str, Any]:
    queue = client.get("/api/queue")
    queue.raise_for_status()
    (ticket,) = queue.json()["waiting"]
    assert ticket["channel"] == "web"
    return dict(ticket)


def test_the_bot_answers_in_the_widget_labelled_as_the_bot(live_server: LiveServer, page: Page) -> None:
    open_widget(page, live_server.url + "/")
    expect(page.locator(".bd-title")).to_have_text("ВелоМаркет — чат")
    expect(page.locator(".bd-hours")).to_contain_text("ежедневно 09:00–21:00")
    expect(page.locator(".bd-status")).to_have_text(  # nobody at the panel: said honestly
        "Сейчас операторов нет на связи — отвечает бот. Оставьте контакт — ответим, "
        "как только оператор подключится."
    )
    expect(page.locator(".bd-greeting-text")).to_have_text(  # before the customer types
        "Здравствуйте! Чем помочь? Выберите тему или напишите вопрос."
    )
    expect(page.locator(".bd-quick .bd-button")).to_have_text(
        ["Где мой заказ?", "Доставка", "Оплата", "Возврат", "Позвать оператора"]
    )

    write(page, "привет")
    expect(page.locator(".bd-quick")).to_have_count(0)  # the quick buttons go once the customer writes

    expect(page.locator(".bd-customer").first).to_have_text("привет")
    bot = page.locator(".bd-bot").first
    expect(bot.locator(".bd-badge")).to_have_text("🤖 Бот")
    expect(bot.locator(".bd-text")).to_contain_text("Здравствуйте")
    expect(page.locator(".bd-customer.bd-pending")).to_have_count(0)  # stored: acknowledged
    screenshot(page, "widget-bot")

    write(page, XSS)  # a customer's markup is text, on the customer's own screen too
    expect(page.locator(".bd-customer").nth(1)).to_have_text(XSS)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".bd-log img").count() == 0
    # The shop's page styles (red dashed buttons, serif) do not reach into the widget.
    send = page.locator(".bd-send")
    assert send.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(31, 111, 235)"
    assert "serif" not in send.evaluate("b => getComputedStyle(b).fontFamily").replace("sans-serif", "")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_the_history_survives_a_reload(live_server: LiveServer, page: Page) -> None:
    open_widget(page, live_server.url + "/")
    write(page, "как оформить возврат?")
    expect(page.locator(".bd-bot")).not_to_have_count(0)
    said = page.locator(".bd-log .bd-text").all_text_contents()

    page.reload()

    expect(page.locator(".bd-window")).to_be_visible()  # it was open: it opens again
    expect(page.locator(".bd-log .bd-text")).to_have_text(said)
    expect(page.locator(".bd-bot .bd-badge").first).to_have_text("🤖 Бот")


def test_the_widget_reconnects_and_sends_what_was_typed_offline(live_server: LiveServer, page: Page) -> None:
    network = {"up": True}
    sockets: list[WebSocketRoute] = []

    def route(socket: WebSocketRoute) -> None:  # between the page and botdesk: the network
        if network["up"]:
            socket.connect_to_server()
            sockets.append(socket)
        else:
            socket.close(code=4000, reason="network down")

    page.route_web_socket(re.compile(r"/ws/chat"), route)
    widget = open_widget(page, live_server.url + "/")
    write(page, "привет")
    expect(page.locator(".bd-bot")).not_to_have_count(0)

    network["up"] = False
    sockets[-1].close(code=4000, reason="network down")
    expect(page.locator(".bd-conn")).to_be_visible()  # "reconnecting…"
    write(page, "как оформить возврат?")
    expect(page.locator(".bd-customer.bd-pending")).to_have_text(["как оформить возврат?"])
    bot_answers = page.locator(".bd-bot").count()

    network["up"] = True
    expect(widget).to_have_attribute("data-connection", "live")
    expect(page.locator(".bd-customer.bd-pending")).to_have_count(0)  # sent after the reconnect, stored
    expect(page.locator(".bd-customer")).to_have_text(["привет", "как оформить возврат?"])
    expect(page.locator(".bd-bot")).not_to_have_count(bot_answers)  # and answered
    expect(page.locator(".bd-conn")).to_be_hidden()


def test_the_widget_stays_hidden_on_the_checkout_page(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/demo/checkout")
    page.wait_for_function("window.__botdeskWidget === 'hidden'")
    expect(page.locator("#botdesk-widget")).to_have_count(0)
    expect(page.get_by_role("heading", name="Оформление заказа")).to_be_visible()

    page.goto(live_server.url + "/")
    expect(page.locator(".bd-launcher")).to_be_visible()


def test_the_invitation_is_shown_once_per_visitor(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/demo/bikes")
    widget = page.locator("#botdesk-widget")
    expect(widget).to_have_attribute("data-invitation", "scheduled")
    invite = page.locator(".bd-invite")
    expect(invite).to_be_visible()  # after its delay
    expect(invite.locator(".bd-invite-text")).to_have_text(
        "Выбираете велосипед? Спросите нас — подскажем размер рамы и модель."
    )
    screenshot(page, "widget-invitation")

    page.reload()

    expect(widget).to_have_attribute("data-invitation", "skipped")
    expect(invite).to_be_hidden()
    page.goto(live_server.url + "/")
    expect(widget).to_have_attribute("data-invitation", "none")  # no invitation for this page at all


def test_a_person_answers_in_the_widget_and_gives_the_dialogue_back_to_the_bot(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Anna", photo_url="https://example.test/anna.png")
    open_widget(page, live_server.url + "/")
    write(page, "Позовите оператора, пожалуйста")
    expect(page.locator(".bd-bot").last).to_contain_text("очеред")

    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        csrf = log_in(client, "anna")
        ticket = waiting_web_ticket(client)
        assert ticket["last_customer_message"] == "Позовите оператора, пожалуйста"
        claimed = client.post(f"/api/tickets/{ticket['ticket_id']}/claim", headers=csrf)
        assert claimed.status_code == 200, claimed.text
        expect(page.locator(".bd-event").last).to_have_text(
            "С вами на связи оператор Anna."
        )  # a Latin name: neutral

        replied = client.post(f"/api/tickets/{ticket['ticket_id']}/reply", headers=csrf, json={"text": "/hi"})
        assert replied.status_code == 200, replied.text
        operator = page.locator(".bd-operator").last
        expect(operator.locator(".bd-name")).to_have_text("Anna")
        expect(operator.locator(".bd-text")).to_have_text(
            "Здравствуйте! Меня зовут Anna, я помогу разобраться."
        )
        expect(operator.locator("img.bd-photo")).to_have_attribute("src", "https://example.test/anna.png")
        screenshot(page, "widget-operator")

        write(page, "Спасибо, всё понятно")
        expect(page.locator(".bd-customer").last).to_have_text("Спасибо, всё понятно")
        returned = client.post(f"/api/tickets/{ticket['ticket_id']}/return", headers=csrf)
        assert returned.status_code == 200, returned.text

    expect(page.locator(".bd-event").last).to_have_text("Вы снова общаетесь с ботом. Вопрос решён?")
    page.locator(".bd-button", has_text="Да").click()
    expect(page.locator(".bd-customer").last).to_have_text("Да")
    expect(page.locator(".bd-bot").last.locator(".bd-badge")).to_have_text("🤖 Бот")
    assert page.js_errors == []  # type: ignore[attr-defined]
