"""The VK channel's pure parts: reading VK's events, keyboards, splitting, random_id, credentials."""

from __future__ import annotations

import json

import pytest

from bot.channels.vk.api import VkAuthError, VkFlood, VkUnreachable, api_error, form_value
from bot.channels.vk.env import vk_credentials
from bot.channels.vk.inbound import incoming, payload_command, profile_of, to_inbound
from bot.channels.vk.media import attachment_source, download_url
from bot.channels.vk.options import VkSettings
from bot.channels.vk.outbound import (
    EMPTY_KEYBOARD,
    MAX_CHARS,
    keyboard,
    random_id,
    render,
    split_text,
    vk_len,
)
from bot.errors import ConfigError
from bot.messages import OutboundMessage

IVAN = 5550001


def new_message(**message: object) -> dict[str, object]:
    base = {"id": 77, "from_id": IVAN, "peer_id": IVAN, "out": 0, "text": "привет", "attachments": []}
    return {"type": "message_new", "object": {"message": {**base, **message}, "client_info": {}}}


def outbound(text: str, **extra: object) -> OutboundMessage:
    fields: dict[str, object] = {"sender": "bot", "sender_name": "🤖 Бот", "message_id": 42, **extra}
    return OutboundMessage("vk", str(IVAN), 1, text, **fields)  # type: ignore[arg-type]


def test_a_private_message_becomes_the_customers_text_stored_once_by_its_vk_id() -> None:
    message = incoming(new_message())
    assert message is not None
    inbound = to_inbound(message, profile={"name": "Иван Петров"})
    assert inbound is not None
    assert (inbound.channel, inbound.sender_id, inbound.text, inbound.message_id) == (
        "vk",
        str(IVAN),
        "привет",
        "77",
    )
    assert inbound.profile == {"name": "Иван Петров"}


@pytest.mark.parametrize(
    "change",
    [
        {"peer_id": 2_000_000_001},  # a group chat
        {"from_id": -5, "peer_id": -5},  # a community
        {"out": 1},  # our own message
        {"id": 0, "conversation_message_id": None},  # nothing to store it once by
    ],
)
def test_what_is_not_a_customers_private_message_is_ignored(change: dict[str, object]) -> None:
    assert incoming(new_message(**change)) is None


def test_an_empty_message_is_not_kept() -> None:
    message = incoming(new_message(text="  "))
    assert message is not None and to_inbound(message) is None


def test_button_payloads_and_vks_start_button() -> None:
    assert payload_command('{"b":"/affirm"}') == ("button", "/affirm")
    assert payload_command('{"command":"start"}') == ("start", "")
    for other in (None, "", "not json", "[1]", '{"b": ""}', '{"x": 1}', '{"b":"' + "a" * 2000 + '"}'):
        assert payload_command(other) is None


def test_photo_document_voice_and_kinds_without_a_file() -> None:
    photo = {"id": 9, "owner_id": IVAN, "sizes": [{"url": "https://sun9.userapi.com/a.jpg"}]}
    doc = {"id": 10, "owner_id": IVAN, "title": "счёт.pdf", "size": 2048, "ext": "pdf", "url": "u"}
    voice = {"id": 11, "owner_id": IVAN, "link_ogg": "https://x/v.ogg"}
    attachments = [
        {"type": "photo", "photo": photo},
        {"type": "doc", "doc": doc},
        {"type": "audio_message", "audio_message": voice},
        {"type": "video", "video": {"id": 1, "owner_id": 2}},
        {"type": "strange"},
        "garbage",
    ]
    message = incoming(new_message(text="", attachments=attachments, geo={"coordinates": {}}))
    assert message is not None
    kinds = [(a["type"], a["file_id"]) for a in message.attachments]
    assert kinds == [
        ("photo", f"photo{IVAN}_9"),
        ("document", f"doc{IVAN}_10"),
        ("voice", f"audio_message{IVAN}_11"),
        ("video", None),
        ("strange", None),
        ("location", None),
    ]
    photo_in, doc_in = message.attachments[:2]
    assert photo_in["url"] == f"/api/files/vk/photo{IVAN}_9" and photo_in["mime_type"] == "image/jpeg"
    assert photo_in["vk_message_id"] == 77
    assert (doc_in["file_name"], doc_in["file_size"], doc_in["mime_type"]) == (
        "счёт.pdf",
        2048,
        "application/pdf",
    )
    assert "url" not in message.attachments[3]
    inbound = to_inbound(message)
    assert inbound is not None and inbound.text == ""  # a photo alone is kept, with no words


def test_the_current_address_of_a_file_is_the_largest_photo_or_the_documents() -> None:
    sizes = [{"url": "small", "width": 75, "height": 75}, {"url": "big", "width": 1280, "height": 960}]
    assert download_url({"type": "photo", "photo": {"id": 9, "owner_id": 1, "sizes": sizes}}) == (
        "photo1_9",
        "big",
    )
    assert download_url({"type": "doc", "doc": {"id": 3, "owner_id": -2, "url": "d"}}) == ("doc-2_3", "d")
    assert download_url({"type": "video", "video": {}}) is None


def test_profile_from_users_get() -> None:
    user = {"id": 1, "first_name": "Иван", "last_name": "Петров", "screen_name": "ivanp"}
    assert profile_of(user) == {
        "name": "Иван Петров",
        "first_name": "Иван",
        "last_name": "Петров",
        "username": "ivanp",
        "link": "https://vk.com/ivanp",
    }
    assert profile_of(None) is None


def test_keyboard_from_response_buttons() -> None:
    buttons = [{"title": "Да", "payload": "/affirm"}, {"title": "Нет", "payload": "/deny"}, {"title": ""}]
    reply = keyboard(buttons, "reply", one_time=True)
    assert reply == {
        "one_time": True,
        "buttons": [  # short ones side by side
            [
                {"action": {"type": "text", "label": "Да", "payload": '{"b":"/affirm"}'}, "color": "primary"},
                {
                    "action": {"type": "text", "label": "Нет", "payload": '{"b":"/deny"}'},
                    "color": "secondary",
                },
            ]
        ],
    }
    inline = keyboard(buttons, "inline", one_time=True)
    assert inline is not None and inline["inline"] is True and "one_time" not in inline
    long = keyboard(
        [{"title": "Очень длинная надпись на кнопке, длиннее сорока", "payload": "x" * 300}], "reply", False
    )
    assert long is not None
    (action,) = (row[0]["action"] for row in long["buttons"])
    assert len(action["label"]) == 40 and "payload" not in action  # the label goes in as the words
    assert keyboard([{"title": " "}], "reply", True) is None
    titles = [{"title": f"Вариант номер {i}", "payload": str(i)} for i in range(20)]
    many = keyboard(titles, "inline", True)  # VK: at most 10 buttons in 6 rows under a message
    assert many is not None and [len(row) for row in many["buttons"]] == [2, 2, 2, 2, 2]
    few = keyboard(titles[:3], "reply", True)
    assert few is not None and [len(row) for row in few["buttons"]] == [1, 1, 1]
    reply_many = keyboard(titles, "reply", True)
    assert reply_many is not None and [len(row) for row in reply_many["buttons"]] == [2] * 10


def test_split_keeps_every_word_and_cuts_at_paragraphs() -> None:
    text = "\n\n".join(f"Пункт {i}: " + "подробности " * 80 for i in range(6))
    parts = split_text(text, 2000)
    assert len(parts) > 1 and all(vk_len(p) <= 2000 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert all(p.startswith("Пункт") for p in parts)
    assert split_text("") == [""]
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]  # one word longer than a message
    assert split_text("😀" * 3, 4) == ["😀😀", "😀"]  # an emoji counts twice


def test_render_labels_every_part_and_puts_the_keyboard_on_the_last() -> None:
    text = "\n\n".join("слово " * 500 for _ in range(3))
    parts = render(outbound(text, buttons=[{"title": "Да", "payload": "/affirm"}]), "reply", True)
    assert len(parts) >= 2
    assert all(p.text.startswith("🤖 Бот: ") and vk_len(p.text) <= MAX_CHARS for p in parts)
    assert [p.keyboard is not None for p in parts] == [False] * (len(parts) - 1) + [True]
    assert len({p.random_id for p in parts}) == len(parts)
    cleared = render(outbound("ок"), "reply", True, clear_keyboard=True)
    assert cleared[0].keyboard == EMPTY_KEYBOARD
    assert render(outbound("ок"), "reply", True)[0].keyboard is None


def test_random_id_is_the_same_on_every_attempt_and_fits_vks_int32() -> None:
    assert random_id(42, 0) == random_id(42, 0) != random_id(42, 1) != random_id(43, 0)
    ids = {random_id(n, p) for n in range(1, 2000) for p in range(3)}
    assert len(ids) == 5997 and all(0 < i < 2**31 for i in ids)
    assert 0 < random_id(None, 0) < 2**31


def test_vk_errors_by_code() -> None:
    assert isinstance(api_error({"error_code": 6, "error_msg": "Too many"}, "m"), VkFlood)
    assert isinstance(api_error({"error_code": 9, "error_msg": "Flood control"}, "m"), VkFlood)
    assert isinstance(api_error({"error_code": 901, "error_msg": "no permission"}, "m"), VkUnreachable)
    assert isinstance(api_error({"error_code": 902, "error_msg": "privacy"}, "m"), VkUnreachable)
    assert isinstance(api_error({"error_code": 5, "error_msg": "auth"}, "m"), VkAuthError)
    other = api_error("garbage", "messages.send")
    assert other.code == -1 and "messages.send" in str(other)


def test_form_values_as_vk_reads_them() -> None:
    assert form_value(True) == "1" and form_value(False) == "0"
    assert form_value(["photo1_2", "doc3_4"]) == "photo1_2,doc3_4"
    assert json.loads(form_value({"one_time": True, "buttons": []})) == {"one_time": True, "buttons": []}


def test_response_attachment_sources() -> None:
    assert attachment_source("https://shop.example/price.pdf") == ("https://shop.example/price.pdf", None)
    assert attachment_source({"url": "https://x/a.pdf", "title": "Прайс"}) == ("https://x/a.pdf", "Прайс")
    assert attachment_source({"payload": {"src": "https://x/b.pdf"}}) == ("https://x/b.pdf", None)
    assert attachment_source("file:///etc/passwd") is None and attachment_source(5) is None


def test_credentials_from_the_environment() -> None:
    longpoll = VkSettings()
    assert vk_credentials(longpoll, {}) is None
    token = "vk1.a.abcdefghijklmnopqrstuvwxyz"
    found = vk_credentials(longpoll, {"VK_GROUP_TOKEN": token, "VK_GROUP_ID": "42"})
    assert found is not None and found.group_id == 42 and found.base_url == "https://api.vk.com/method"
    assert token not in repr(found)
    for bad in (
        {"VK_GROUP_TOKEN": "short"},
        {"VK_GROUP_TOKEN": token, "VK_API_BASE_URL": "ftp://x"},
        {"VK_GROUP_TOKEN": token, "VK_GROUP_ID": "-42"},
        {"VK_GROUP_TOKEN": token, "VK_CALLBACK_SECRET": "has space"},
    ):
        with pytest.raises(ConfigError):
            vk_credentials(longpoll, bad)
    callback = VkSettings(mode="callback", confirmation_code="abc123")
    with pytest.raises(ConfigError, match="VK_CALLBACK_SECRET"):
        vk_credentials(callback, {"VK_GROUP_TOKEN": token})
    with pytest.raises(ConfigError, match="confirmation"):
        vk_credentials(VkSettings(mode="callback"), {"VK_GROUP_TOKEN": token, "VK_CALLBACK_SECRET": "s3"})
    ok = vk_credentials(callback, {"VK_GROUP_TOKEN": token, "VK_CALLBACK_SECRET": "s3"})
    assert ok is not None and (ok.secret, ok.confirmation_code) == ("s3", "abc123")
