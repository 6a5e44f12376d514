"""Files in two browsers: a customer's photo from the widget, an operator's files back (headless Chromium).

The customer is one browser profile on the demo shop page (the real ``widget.js``); the
operator another, in the panel. Nothing is reloaded: what each sees came live, and every
picture is checked to have loaded (its pixels decoded), not only to be in the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, Route, WebSocketRoute, expect

from tests.browser.test_panel import PASSWORD, log_in, messages, open_dialogue
from tests.browser.test_widget import open_widget, write
from tests.helpers import files
from tests.helpers.browser import LiveServer, screenshot


def loaded(image: Locator) -> None:
    """The picture is decoded (a broken or forbidden one has no natural width)."""
    expect(image).to_be_visible()
    image.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())


def test_a_photo_from_the_widget_reaches_the_operator_and_files_come_back(
    live_server: LiveServer, page: Page, second_context: BrowserContext, tmp_path: Path
) -> None:
    photo = tmp_path / "сломанная рама.png"
    photo.write_bytes(files.png(40, 30, (200, 40, 40)))
    manual = tmp_path / "инструкция.pdf"
    manual.write_bytes(files.PDF)
    scheme = tmp_path / "схема.png"
    scheme.write_bytes(files.png(30, 30, (40, 40, 200)))
    live_server.add_operator("anna", PASSWORD, display_name="Анна")

    # The customer asks for a person, then attaches a photo of the broken frame.
    open_widget(page, live_server.url + "/")
    write(page, "Позовите оператора, пожалуйста")
    expect(page.locator(".bd-bot .bd-text").last).to_contain_text("очеред")
    page.locator(".bd-file-input").set_input_files(str(photo))
    sent = page.locator(".bd-customer .bd-file-image")
    loaded(sent)
    expect(sent).to_have_attribute("alt", "сломанная рама.png")
    expect(page.locator(".bd-customer.bd-pending")).to_have_count(0)

    # The operator takes the dialogue and sees the photo in the history, as a picture.
    panel = second_context.new_page()
    log_in(panel, live_server, "anna", "Анна")
    panel.get_by_test_id("queue-item").get_by_test_id("take").click()
    dialogue = open_dialogue(panel)
    image = messages(dialogue, "customer").get_by_test_id("attachment-image")
    loaded(image)
    expect(image).to_have_attribute("alt", "сломанная рама.png")

    # A second photo arrives live, while the dialogue is open.
    page.locator(".bd-file-input").set_input_files(str(photo))
    loaded(messages(dialogue, "customer").get_by_test_id("attachment-image").nth(1))

    # The operator answers with a PDF and a picture, from the reply box.
    dialogue.get_by_test_id("attach-input").set_input_files([str(manual), str(scheme)])
    link = messages(dialogue, "operator").get_by_test_id("attachment-link")
    expect(link).to_have_text("инструкция.pdf · 1 КБ")
    loaded(messages(dialogue, "operator").get_by_test_id("attachment-image"))
    screenshot(panel, "panel-files")

    # The customer gets both: the picture shown, the PDF as a download of the same bytes.
    from_operator = page.locator(".bd-operator")
    loaded(from_operator.locator(".bd-file-image"))
    download_link = from_operator.locator(".bd-file-link")
    expect(download_link).to_have_text("инструкция.pdf · 1 КБ")
    with page.expect_download() as download:
        download_link.click()
    assert download.value.suggested_filename == "инструкция.pdf"
    assert Path(download.value.path()).read_bytes() == files.PDF
    screenshot(page, "widget-files")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_file_the_widget_cannot_send_is_said_so_in_the_customer_s_language(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    page_file = tmp_path / "акция.html"
    page_file.write_bytes(files.HTML)
    open_widget(page, live_server.url + "/")
    page.locator(".bd-file-input").set_input_files(str(page_file))
    failed = page.locator(".bd-customer.bd-failed")
    expect(failed.locator(".bd-failed-reason")).to_contain_text("Такие файлы не принимаются")
    expect(page.locator(".bd-file-image")).to_have_count(0)
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_file_on_its_way_keeps_its_place_when_the_chat_reconnects(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    sockets: list[WebSocketRoute] = []

    def through(socket: WebSocketRoute) -> None:
        socket.connect_to_server()
        sockets.append(socket)

    uploads: list[Route] = []
    page.route_web_socket(re.compile(r"/ws/chat"), through)

    def hold(route: Route) -> None:  # the file is still on its way
        uploads.append(route)

    page.route("**/widget/files", hold)
    widget = open_widget(page, live_server.url + "/")
    page_file = tmp_path / "акция.html"
    page_file.write_bytes(files.HTML)
    page.locator(".bd-file-input").set_input_files(str(page_file))
    expect(page.locator(".bd-customer.bd-pending")).to_have_text(["акция.html"])

    sockets[-1].close(code=4000, reason="network blip")  # the widget reconnects: the history redraws the chat
    expect(widget).not_to_have_attribute("data-connection", "live")
    expect(widget).to_have_attribute("data-connection", "live")
    expect(page.locator(".bd-customer.bd-pending")).to_have_text(["акция.html"])  # still in view

    uploads[0].continue_()  # botdesk refuses the file: said on its own bubble
    failed = page.locator(".bd-customer.bd-failed")
    expect(failed.locator(".bd-failed-reason")).to_contain_text("Такие файлы не принимаются")
    expect(page.locator(".bd-customer")).to_have_count(1)
    assert page.js_errors == []  # type: ignore[attr-defined]
