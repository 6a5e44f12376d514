"""The WhatsApp channel's pure parts: the signature, payloads in, messages out, the window, the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.channels.whatsapp import (
    SIGNATURE_HEADER,
    WhatsAppSettings,
    parse_webhook,
    render,
    sign,
    signature_ok,
    split_text,
    whatsapp_credentials,
    window_open,
)
from bot.channels.whatsapp.client import error_of
from bot.channels.whatsapp.outbound import utf16_len
from bot.errors import ConfigError
from bot.messages import OutboundMessage
from tests.channels.whatsapp.fake_graph import PHONE_NUMBER_ID, FakeGraph, Invalid, Sent, check_message

WA = "79001234567"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_signature_is_the_apps_hmac_of_the_raw_body() -> None:
    good = sign(BODY, "secret-1")
    assert good.startswith("sha256=") and len(good) == 71
    assert signature_ok(BODY, good, "secret-1")
    assert signature_ok(BODY, good.upper().replace("SHA256=", "sha256="), "secret-1")  # hex in any case
    assert not signature_ok(BODY, good, "secret-2")
    assert not signature_ok(BODY + b" ", good, "secret-1")  # the raw body, byte for byte
    for wrong in (None, "", "sha256=", good[:-1], "sha1=" + good[7:], good + "0", "sha256=" + "zz" * 32):
        assert not signature_ok(BODY, wrong, "secret-1"), wrong
    assert SIGNATURE_HEADER == "X-Hub-Signature-256"


def _message(kind: str, content: Any, **extra: Any) -> dict[str, Any]:
    fake = FakeGraph()
    payload = fake.message(WA, kind, content)
    payload["entry"][0]["changes"][0]["value"]["messages"][0].update(extra)
    return payload


def test_text_buttons_and_lists_come_in_as_the_customers_words_or_the_buttons_payload() -> None:
    (text,) = parse_webhook(_message("text", {"body": "как оплатить?"}), PHONE_NUMBER_ID).messages
    assert (text.channel, text.sender_id, text.text) == ("whatsapp", WA, "как оплатить?")
    assert text.message_id is not None and text.message_id.startswith("wamid.")
    assert text.profile == {"name": "Иван Петров"}
    pressed = {"type": "button_reply", "button_reply": {"id": "/affirm", "title": "Да"}}
    assert parse_webhook(_message("interactive", pressed), PHONE_NUMBER_ID).messages[0].text == "/affirm"
    chosen = {
        "type": "list_reply",
        "list_reply": {"id": "/delivery", "title": "Доставка", "description": "x"},
    }
    assert parse_webhook(_message("interactive", chosen), PHONE_NUMBER_ID).messages[0].text == "/delivery"
    template = {"payload": "/human_request", "text": "Оператор"}
    assert parse_webhook(_message("button", template), PHONE_NUMBER_ID).messages[0].text == "/human_request"


def test_files_become_attachments_the_operator_opens_through_the_server() -> None:
    image = {"caption": "вот чек", "mime_type": "image/jpeg", "sha256": "ab", "id": "1479537139650973"}
    (message,) = parse_webhook(_message("image", image), PHONE_NUMBER_ID).messages
    assert message.text == "вот чек"
    assert message.attachments == (
        {
            "type": "image",
            "file_id": "1479537139650973",
            "caption": "вот чек",
            "mime_type": "image/jpeg",
            "file_name": None,
            "url": "/api/files/whatsapp/1479537139650973",
        },
    )
    voice = {"mime_type": "audio/ogg; codecs=opus", "id": "555", "voice": True}
    (said,) = parse_webhook(_message("audio", voice), PHONE_NUMBER_ID).messages
    assert said.text == "" and said.attachments[0]["type"] == "voice"
    assert said.attachments[0]["mime_type"] == "audio/ogg"
    place = {"latitude": 55.75, "longitude": 37.61, "name": "ТЦ", "address": "Тверская, 1"}
    (where,) = parse_webhook(_message("location", place), PHONE_NUMBER_ID).messages
    assert where.attachments[0]["type"] == "location" and where.attachments[0]["file_id"] is None
    (odd,) = parse_webhook(_message("unsupported", {}), PHONE_NUMBER_ID).messages
    assert odd.attachments[0]["type"] == "unsupported"  # kept: the bot says it reads text


def test_what_is_no_message_or_has_the_wrong_shape_is_skipped_not_raised() -> None:
    reaction = _message("reaction", {"message_id": "wamid.x", "emoji": "👍"})
    assert parse_webhook(reaction, PHONE_NUMBER_ID).messages == []
    for garbage in (
        None,
        [],
        "text",
        {"object": "page"},
        {"object": "whatsapp_business_account", "entry": "x"},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": 1}]}]},
        _message("text", {"body": 5}),
        _message("text", {"body": "hi"}, **{"from": "not-a-number"}),
        _message("text", {"body": "hi"}, id=["wamid"]),
        _message("image", {"id": "../../etc/passwd"}),
        _message("interactive", {"type": "button_reply", "button_reply": "x"}),
    ):
        assert parse_webhook(garbage, PHONE_NUMBER_ID).messages == [], garbage
    other = parse_webhook(FakeGraph(phone_number_id="999").text(WA, "hi"), PHONE_NUMBER_ID)
    assert other.messages == [] and other.other_numbers == 1  # another number of the same app


def test_statuses_keep_the_error_code() -> None:
    fake = FakeGraph()
    sent = Sent(WA, {"type": "text"}, "wamid.abc")
    (read,) = parse_webhook(fake.status(sent, "read"), PHONE_NUMBER_ID).statuses
    assert (read.message_id, read.status, read.recipient_id, read.error_code) == (
        "wamid.abc",
        "read",
        WA,
        None,
    )
    failed = fake.status(sent, "failed", (131047, "Re-engagement message"))
    (status,) = parse_webhook(failed, PHONE_NUMBER_ID).statuses
    assert (status.status, status.error_code, status.error_title) == (
        "failed",
        131047,
        "Re-engagement message",
    )


def _out(text: str, buttons: list[dict[str, Any]] | None = None, name: str = "🤖 Бот") -> OutboundMessage:
    return OutboundMessage("whatsapp", WA, 1, text, "bot", name, buttons=buttons or [])


def _valid(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        check_message({"messaging_product": "whatsapp", "to": WA, **payload}, PHONE_NUMBER_ID)


def test_text_is_labelled_and_split_within_whatsapps_limit() -> None:
    (only,) = render(_out("Здравствуйте!"))
    assert only == {"type": "text", "text": {"preview_url": False, "body": "🤖 Бот: Здравствуйте!"}}
    paragraphs = [f"Пункт {i}: " + "подробности " * 60 for i in range(8)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    payloads = render(_out(text, name="Анна"))
    bodies = [p["text"]["body"] for p in payloads]
    assert len(bodies) == 2 and all(b.startswith("Анна: ") and utf16_len(b) <= 4096 for b in bodies)
    assert bodies[1].removeprefix("Анна: ").startswith("Пункт")  # cut at a paragraph
    assert " ".join(b.removeprefix("Анна: ") for b in bodies).split() == text.split()  # nothing lost
    _valid(payloads)
    emoji = split_text("😀" * 3000, 4096)
    assert [utf16_len(p) for p in emoji] == [4096, 1904]  # astral characters count twice


def test_up_to_three_buttons_are_reply_buttons_more_a_list() -> None:
    yes_no = [{"title": "Да", "payload": "/affirm"}, {"title": "Нет", "payload": "/deny"}]
    (message,) = render(_out("Ответ помог?", yes_no))
    assert message["interactive"]["type"] == "button"
    assert message["interactive"]["body"] == {"text": "🤖 Бот: Ответ помог?"}
    assert message["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "/affirm", "title": "Да"}},
        {"type": "reply", "reply": {"id": "/deny", "title": "Нет"}},
    ]
    long_title = [{"title": "Соединить с оператором, пожалуйста", "payload": "/human_request"}]
    (cut,) = render(_out("?", long_title))
    assert (
        cut["interactive"]["action"]["buttons"][0]["reply"]["title"] == "Соединить с операто…"
    )  # 20 characters

    topics = [{"title": f"Тема номер {i}: доставка и оплата", "payload": f"/topic_{i}"} for i in range(12)]
    (menu,) = render(_out("Выберите тему", topics), list_button="Выбрать")
    action = menu["interactive"]["action"]
    assert menu["interactive"]["type"] == "list" and action["button"] == "Выбрать"
    rows = action["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"/topic_{i}" for i in range(10)]  # WhatsApp shows ten
    assert rows[0]["title"] == "Тема номер 0: доставка…"
    assert rows[0]["description"] == "Тема номер 0: доставка и оплата"  # the whole title
    _valid([message, cut, menu])


def test_a_long_text_with_buttons_keeps_the_buttons_on_its_last_part() -> None:
    text = "слово " * 400  # 2400 characters: over an interactive message's 1024
    payloads = render(_out(text, [{"title": "Да", "payload": "/affirm"}]))
    assert [p["type"] for p in payloads] == ["text", "text", "text", "interactive"][-len(payloads) :]
    assert payloads[-1]["type"] == "interactive" and len(payloads) >= 3
    assert all(p["text"]["body"].startswith("🤖 Бот: ") for p in payloads[:-1])
    _valid(payloads)
    odd = [
        {"title": "Да", "payload": "/x" + "y" * 300},  # over 256 characters: the title goes in instead
        {"title": "Нет", "payload": "/deny"},
        {"title": "Нет!", "payload": "/deny"},  # the same id twice: WhatsApp refuses that
    ]
    (only,) = render(_out("?", odd))
    assert [b["reply"]["id"] for b in only["interactive"]["action"]["buttons"]] == ["Да", "/deny"]
    assert render(_out("   ")) == []  # a picture alone, say: no empty text


def test_the_fake_refuses_what_whatsapp_refuses() -> None:
    four = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "?"},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": str(i), "title": "x"}} for i in range(4)]
            },
        },
    }
    with pytest.raises(Invalid):
        check_message({"messaging_product": "whatsapp", "to": WA, **four}, PHONE_NUMBER_ID)
    with pytest.raises(Invalid):
        _valid([{"type": "text", "text": {"body": "x" * 4097}}])


def test_the_window_is_24_hours_from_the_customers_last_message() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert window_open(now - timedelta(hours=23, minutes=59), now)
    assert not window_open(now - timedelta(hours=24), now)
    assert not window_open(None, now)  # never wrote: only templates
    wrote = now - timedelta(hours=1)
    assert not window_open(wrote, now, closed_at=now - timedelta(minutes=1))  # WhatsApp said 131047
    assert window_open(wrote, now, closed_at=wrote - timedelta(minutes=1))  # they wrote after that


ENV = {
    "WHATSAPP_TOKEN": "EAAtestTOKEN0123456789",
    "WHATSAPP_APP_SECRET": "0123456789abcdef",
    "WHATSAPP_VERIFY_TOKEN": "my-verify-token",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
}


def test_credentials_come_from_the_environment_and_are_checked() -> None:
    settings = WhatsAppSettings()
    assert whatsapp_credentials(settings, {}) is None  # no token: the channel stays off
    found = whatsapp_credentials(settings, ENV)
    assert found is not None and found.api_url == "https://graph.facebook.com/v23.0"
    assert ENV["WHATSAPP_TOKEN"] not in repr(found) and ENV["WHATSAPP_APP_SECRET"] not in repr(found)
    fake = whatsapp_credentials(
        settings, {**ENV, "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9/", "WHATSAPP_API_VERSION": "v19.0"}
    )
    assert fake is not None and fake.api_url == "http://127.0.0.1:9/v19.0"
    from_config = whatsapp_credentials(
        WhatsAppSettings(phone_number_id="123"), {k: v for k, v in ENV.items() if "PHONE" not in k}
    )
    assert from_config is not None and from_config.phone_number_id == "123"
    for broken, words in (
        ({"WHATSAPP_APP_SECRET": ""}, "WHATSAPP_APP_SECRET"),
        ({"WHATSAPP_VERIFY_TOKEN": ""}, "WHATSAPP_VERIFY_TOKEN"),
        ({"WHATSAPP_PHONE_NUMBER_ID": "+1 555"}, "WHATSAPP_PHONE_NUMBER_ID"),
        ({"WHATSAPP_API_BASE_URL": "ftp://x"}, "WHATSAPP_API_BASE_URL"),
        ({"WHATSAPP_API_VERSION": "23"}, "WHATSAPP_API_VERSION"),
        ({"WHATSAPP_TOKEN": "has a space in it"}, "WHATSAPP_TOKEN"),
    ):
        with pytest.raises(ConfigError, match=words):
            whatsapp_credentials(settings, {**ENV, **broken})


def test_graph_errors_say_what_to_do() -> None:
    def error(status: int, body: Any, **headers: str) -> Any:
        content = body if isinstance(body, bytes) else __import__("json").dumps(body).encode()
        return error_of(httpx.Response(status, content=content, headers=headers))

    rate = error(400, {"error": {"code": 130429, "message": "(#130429) Rate limit hit"}})
    assert rate.rate_limited and rate.temporary and rate.title == "(#130429) Rate limit hit"
    assert error(429, b"", **{"Retry-After": "3"}).retry_after == 3.0
    gone = error(400, {"error": {"code": 131026, "message": "Message undeliverable"}})
    assert gone.undeliverable and not gone.temporary
    assert error(400, {"error": {"code": 131047, "message": "Re-engagement message"}}).window_closed
    assert error(502, b"<html>bad gateway</html>").temporary
    assert error(401, {"error": {"code": 190}}).unauthorized
    bad = error(400, {"error": {"code": 100, "message": "Invalid parameter"}})
    assert not bad.temporary and bad.not_found  # a media id that is gone: FileGone
