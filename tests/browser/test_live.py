"""The widget and the panel side by side in two browser contexts: presence, queue, typing, labels, search.

A customer at the demo shop page (one browser profile) and an operator in the panel
(another) on the same live botdesk; what each sees came over their own connections.
"""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.helpers.browser import (
    LiveServer,
    mobile_context,
    open_widget,
    panel_log_in,
    screenshot,
    widget_says,
)

PASSWORD = "correct-horse-battery"
ASK_FOR_PERSON = "Позовите оператора, пожалуйста"
ONLINE = "Операторы на связи — отвечаем в чате."
NOBODY = "Сейчас операторов нет на связи"


def watched(context: BrowserContext) -> Page:
    """A new page of ``context`` that keeps its JavaScript errors (``page.js_errors``)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def test_the_widget_follows_the_operator_the_queue_and_typing_both_ways(
    live_server: LiveServer, page: Page, second_context: BrowserContext
) -> None:
    customer = page
    open_widget(customer, live_server.url + "/")
    status = customer.locator(".bd-status")
    expect(status).to_contain_text(NOBODY)  # working hours, but nobody at the panel

    live_server.add_operator("anna", PASSWORD, display_name="Анна")
    panel = watched(second_context)
    panel_log_in(panel, live_server, "anna", PASSWORD, "Анна")
    expect(status).to_have_text(ONLINE)  # her panel is open and she is online
    panel.get_by_test_id("status-toggle").click()
    expect(panel.get_by_test_id("status-toggle")).to_have_attribute("data-status", "away")
    expect(status).to_contain_text(NOBODY)  # "away" is nobody to the customer
    panel.get_by_test_id("status-toggle").click()
    expect(status).to_have_text(ONLINE)

    live_server.customer_says("rest-first", ASK_FOR_PERSON)  # someone is ahead in the queue
    widget_says(customer, "Позовите оператора, пожалуйста, вопрос по возврату")
    queue = customer.locator(".bd-queue")
    expect(queue).to_have_text("Вы 2-й в очереди · ожидание около 6 мин.")
    expect(customer.locator(".bd-bot .bd-text").last).to_have_text(
        "Вы 2-й в очереди, примерное ожидание — 6 мин."
    )

    waiting = panel.get_by_test_id("queue-item")
    expect(waiting).to_have_count(2)
    waiting.first.get_by_test_id("take").click()  # the one who waited longer
    expect(queue).to_have_text("Вы 1-й в очереди · ожидание около 3 мин.")  # moved up, live
    widget_says(customer, "жду")
    expect(customer.locator(".bd-bot .bd-text").last).to_have_text(
        "Ваше сообщение передано оператору, вы 1-й в очереди, примерное ожидание — 3 мин."
    )
    screenshot(customer, "widget-queue")

    expect(waiting).to_have_count(1)
    waiting.get_by_test_id("take").click()
    expect(queue).to_be_hidden()  # picked up
    expect(panel.get_by_test_id("tab")).to_have_count(2)
    dialogue = panel.locator("[data-testid=dialogue]:visible")
    expect(
        dialogue.locator("[data-testid=message][data-sender=customer] [data-testid=message-text]").last
    ).to_have_text("жду")  # the widget customer's dialogue is the open tab now
    expect(dialogue.get_by_test_id("dialogue-state")).to_have_text("Этот диалог ведёте вы.")

    reply = dialogue.get_by_test_id("reply-input")
    reply.press_sequentially("Добрый день", delay=40)
    expect(customer.locator(".bd-typing")).to_have_text("Анна печатает…")
    customer.locator(".bd-input").press_sequentially("У меня ещё", delay=40)
    expect(dialogue.get_by_test_id("customer-typing")).to_have_text("Клиент печатает…")
    screenshot(panel, "panel-typing")
    reply.press("Enter")
    expect(customer.locator(".bd-operator .bd-text").last).to_have_text("Добрый день")
    expect(customer.locator(".bd-typing")).to_be_hidden()  # the message ends "typing…"
    customer.locator(".bd-input").press("Enter")
    expect(dialogue.get_by_test_id("customer-typing")).to_be_hidden()
    expect(dialogue.locator("[data-testid=message][data-sender=customer]").last).to_contain_text("У меня ещё")

    panel.close()  # her tab closes: nobody is at the panel any more
    expect(status).to_contain_text(NOBODY)
    assert customer.js_errors == [] and panel.js_errors == []  # type: ignore[attr-defined]


def test_an_operator_labels_dialogues_filters_the_queue_and_finds_one_by_its_order_number(
    live_server: LiveServer, page: Page
) -> None:
    live_server.add_operator("anna", PASSWORD, display_name="Анна")
    panel_log_in(page, live_server, "anna", PASSWORD, "Анна")
    live_server.customer_says("rest-ivan", "Позовите оператора, заказ 4455667 так и не пришёл")
    live_server.customer_says("rest-olga", "Хочу поговорить с человеком")
    waiting = page.get_by_test_id("queue-item")
    expect(waiting).to_have_count(2)

    waiting.first.get_by_test_id("view").click()
    dialogue = page.locator("[data-testid=dialogue]:visible")
    expect(dialogue.get_by_test_id("label-empty")).to_have_text("Меток пока нет.")
    dialogue.get_by_test_id("label-input").fill("  VIP ")
    dialogue.get_by_test_id("label-add").click()
    chips = dialogue.get_by_test_id("label-chip")
    expect(chips).to_have_count(1)
    expect(chips).to_have_attribute("data-label", "vip")
    expect(dialogue.get_by_test_id("label-empty")).to_be_hidden()
    dialogue.get_by_test_id("label-input").fill("<b>x</b>")
    dialogue.get_by_test_id("label-add").click()
    expect(page.get_by_test_id("toast").last).to_contain_text("метка начинается с буквы или цифры")
    expect(waiting.first.get_by_test_id("label-tag")).to_have_text("vip")

    page.get_by_test_id("label-filter").select_option("vip")
    expect(waiting).to_have_count(1)
    expect(waiting.get_by_test_id("queue-last-message")).to_contain_text("4455667")
    page.get_by_test_id("label-filter").select_option("")
    expect(waiting).to_have_count(2)

    search = page.get_by_test_id("search-input")
    search.fill("4455667")
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(1)
    expect(results.get_by_test_id("search-snippet")).to_contain_text("заказ 4455667")
    expect(results.get_by_test_id("label-tag")).to_have_text("vip")
    screenshot(page, "panel-labels-search")
    results.click()
    expect(page.get_by_test_id("tab")).to_have_count(1)  # it was open: the search result shows it
    search.fill("холодильник")
    expect(page.get_by_test_id("search-empty")).to_have_text("Ничего не найдено.")
    search.press("Escape")
    expect(page.get_by_test_id("search-results")).to_be_hidden()

    dialogue.get_by_test_id("label-remove").click()
    expect(chips).to_have_count(0)
    expect(waiting.first.get_by_test_id("label-tag")).to_have_count(0)
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_on_a_phone_the_chat_takes_the_whole_screen_with_a_compact_header(
    live_server: LiveServer, browser: Browser
) -> None:
    context = mobile_context(browser)
    try:
        page = watched(context)
        open_widget(page, live_server.url + "/")
        window = page.locator(".bd-window").bounding_box()
        header = page.locator(".bd-header").bounding_box()
        assert window is not None and header is not None
        assert (window["x"], window["y"], window["width"], window["height"]) == (0, 0, 390, 844)
        assert header["height"] <= 64  # one compact bar, not a third of the screen
        expect(page.locator(".bd-hours")).to_be_hidden()
        expect(page.locator(".bd-launcher")).to_be_hidden()  # under the full-screen window
        expect(page.locator(".bd-quick .bd-button").first).to_be_visible()
        screenshot(page, "widget-mobile")
        page.locator(".bd-quick .bd-button", has_text="Доставка").click()
        expect(page.locator(".bd-customer").last).to_have_text("Доставка")
        expect(page.locator(".bd-bot .bd-text").last).not_to_have_text("")

        page.locator(".bd-close").click()
        expect(page.locator(".bd-window")).to_be_hidden()
        expect(page.locator(".bd-launcher")).to_be_visible()
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
