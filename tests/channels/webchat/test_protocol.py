"""The widget channel without a server: frames in, frames out, pushes to open sockets, page settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.channels.webchat.protocol import (
    MAX_FRAME_CHARS,
    ChatButton,
    ChatText,
    Connection,
    PageSeen,
    RateLimit,
    StatusAsk,
    TranscriptAsk,
    Visitors,
    WebChatError,
    check_visitor_id,
    message_frame,
    parse_frame,
)
from bot.channels.webchat.widget import (
    WebChatOptions,
    WidgetInvitation,
    describe_hours,
    page_settings,
    status,
)
from bot.events import EventBus, Presence
from bot.hours import WorkingHours
from bot.messages import OutboundMessage
from bot.project import Project

VISITOR = "a1b2c3d4e5f6a7b8c9d0"


def test_frames_from_the_widget_are_parsed() -> None:
    assert parse_frame('{"type": "message", "text": "привет", "client_id": "c1"}') == ChatText("привет", "c1")
    assert parse_frame('{"type": "message", "text": "hi"}') == ChatText("hi", None)
    assert parse_frame('{"type": "button", "payload": "/affirm", "title": "Да"}') == ChatButton(
        "/affirm", "Да", None
    )
    assert parse_frame('{"type": "button", "payload": "/deny"}') == ChatButton("/deny", "/deny", None)
    assert parse_frame('{"type": "transcript", "email": " a@b.ru "}') == TranscriptAsk("a@b.ru")
    assert parse_frame('{"type": "page", "url": "https://shop.test/bikes"}') == PageSeen(
        "https://shop.test/bikes"
    )
    assert parse_frame('{"type": "status"}') == StatusAsk()


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("not json", "JSON objects"),
        ("[1, 2]", "JSON objects"),
        ('{"type": "message", "text": ""}', "empty"),
        ('{"type": "message", "text": "   \\n"}', "empty"),
        ('{"type": "message", "text": 5}', '"text" must be a string'),
        ('{"type": "message", "text": "a\\u0000b"}', "NUL"),
        ('{"type": "message", "text": "hi", "client_id": "has space"}', "client_id"),
        ('{"type": "message", "text": "hi", "client_id": 7}', "client_id"),
        ('{"type": "page", "url": "javascript:alert(1)"}', "http(s) URL"),
        ('{"type": "transcript"}', "email"),
        ('{"type": "shout", "text": "hi"}', "unknown frame type 'shout'"),
    ],
)
def test_bad_frames_are_refused_with_a_reason(raw: str, detail: str) -> None:
    with pytest.raises(WebChatError, match=None) as caught:
        parse_frame(raw)
    assert detail in caught.value.detail


def test_length_limits() -> None:
    assert parse_frame(json.dumps({"type": "message", "text": "я" * 4096})) == ChatText("я" * 4096, None)
    with pytest.raises(WebChatError, match="4097 characters long; the limit is 4096"):
        parse_frame(json.dumps({"type": "message", "text": "я" * 4097}))
    with pytest.raises(WebChatError, match="frame is over"):
        parse_frame(" " * (MAX_FRAME_CHARS + 1))


@pytest.mark.parametrize(
    "value", [None, "", "short", "x" * 65, "has space in it 12345", "кириллица-кириллица"]
)
def test_visitor_ids_must_be_long_random_strings(value: str | None) -> None:
    with pytest.raises(WebChatError, match="16 to 64 characters"):
        check_visitor_id(value)


def test_a_good_visitor_id_passes() -> None:
    assert check_visitor_id("0123456789abcdef-_XY") == "0123456789abcdef-_XY"


def outbound(sender: str = "operator", **extra: object) -> OutboundMessage:
    values: dict[str, object] = {
        "channel": "web",
        "recipient_id": VISITOR,
        "conversation_id": 1,
        "text": "<b>Здравствуйте</b>",
        "sender": sender,
        "sender_name": "Анна",
        "message_id": 7,
        **extra,
    }
    return OutboundMessage(**values)  # type: ignore[arg-type]


def test_message_frames_name_the_sender_and_carry_buttons_photo_and_the_end() -> None:
    at = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    frame = message_frame(outbound(sender_photo="https://shop.test/anna.jpg"), at)
    assert frame == {
        "type": "message",
        "id": 7,
        "sender": "operator",
        "sender_name": "Анна",
        "text": "<b>Здравствуйте</b>",  # text as it is: the widget shows it with textContent
        "buttons": [],
        "created_at": "2030-01-02T09:00:00+00:00",
        "photo_url": "https://shop.test/anna.jpg",
    }
    closing = message_frame(
        outbound(
            "system", response="utter_conversation_closed", buttons=[{"title": "Да", "payload": "/affirm"}]
        )
    )
    assert closing["ends_dialogue"] is True
    assert closing["buttons"] == [{"title": "Да", "payload": "/affirm"}]
    assert "ends_dialogue" not in message_frame(outbound("system", response="utter_operator_joined"))


class FakeSocket:
    def __init__(self, broken: bool = False) -> None:
        self.sent: list[dict[str, object]] = []
        self.broken = broken

    async def send_text(self, text: str) -> None:
        if self.broken:
            raise RuntimeError("the browser went away")
        self.sent.append(json.loads(text))


async def test_a_message_reaches_every_open_window_of_the_visitor_only() -> None:
    channel = Visitors()
    tab1, tab2, other = FakeSocket(), FakeSocket(), FakeSocket()
    channel.connect(Connection(VISITOR, tab1.send_text))
    channel.connect(Connection(VISITOR, tab2.send_text))
    channel.connect(Connection("someone-else-0123456", other.send_text))
    await channel.send(outbound())
    assert [f["text"] for f in tab1.sent] == [f["text"] for f in tab2.sent] == ["<b>Здравствуйте</b>"]
    assert other.sent == []


async def test_no_open_window_is_not_a_failure_and_a_dead_socket_is_dropped() -> None:
    channel = Visitors()
    await channel.send(outbound())  # nobody connected: stored, comes with the history later
    dead, alive = FakeSocket(broken=True), FakeSocket()
    channel.connect(Connection(VISITOR, dead.send_text))
    channel.connect(Connection(VISITOR, alive.send_text))
    await channel.send(outbound())
    assert len(alive.sent) == 1
    assert channel.connections(VISITOR) == 1


def test_too_many_windows_per_visitor_are_refused() -> None:
    channel = Visitors(max_per_visitor=2)
    channel.connect(Connection(VISITOR, FakeSocket().send_text))
    channel.connect(Connection(VISITOR, FakeSocket().send_text))
    with pytest.raises(WebChatError, match="at most 2"):
        channel.connect(Connection(VISITOR, FakeSocket().send_text))


def test_the_rate_limit_allows_bursts_then_refills() -> None:
    now = [0.0]
    limit = RateLimit(60, clock=lambda: now[0])  # one a second, bursts of 10
    assert [limit.allow() for _ in range(11)] == [True] * 10 + [False]
    now[0] += 2.0
    assert [limit.allow() for _ in range(3)] == [True, True, False]


def test_page_settings_hide_and_invite_by_url_glob() -> None:
    widget = WebChatOptions(
        hidden_pages=["*/checkout*"],
        invitations=[WidgetInvitation(pattern="*/bikes*", text="Выбираете велосипед?", delay_seconds=3)],
    )
    assert page_settings(widget, "https://shop.test/Checkout/step-2") == {"hidden": True, "invitation": None}
    bikes = page_settings(widget, "https://shop.test/catalog/bikes?page=2")
    assert bikes["hidden"] is False
    assert bikes["invitation"]["text"] == "Выбираете велосипед?"
    assert bikes["invitation"]["delay_seconds"] == 3
    assert (
        page_settings(widget, "https://shop.test/catalog/bikes")["invitation"]["id"]
        == bikes["invitation"]["id"]
    )
    assert page_settings(widget, "https://shop.test/") == {"hidden": False, "invitation": None}


def test_hours_are_described_in_the_bots_language() -> None:
    hours = WorkingHours(
        timezone="Europe/Berlin", schedule={"mon-fri": "09:00-18:00", "sat": "10:00-14:00", "sun": "closed"}
    )
    assert describe_hours(hours, "ru") == "пн–пт 09:00–18:00, сб 10:00–14:00, вс выходной (Europe/Berlin)"
    assert describe_hours(hours, "en") == "Mon–Fri 09:00–18:00, Sat 10:00–14:00, Sun closed (Europe/Berlin)"


def test_status_says_when_a_person_answers(trained_ru: Project) -> None:
    config = trained_ru.config  # support daily 09:00-21:00 Moscow
    noon = datetime(2030, 3, 5, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    late = datetime(2030, 3, 5, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    open_now = status(config, WebChatOptions(), noon)
    assert open_now["online"] is True
    assert open_now["hours"] == ["ежедневно 09:00–21:00 (по московскому времени)"]
    assert open_now["bot_label"] == "🤖 Бот"
    closed = status(config, WebChatOptions(), late)
    assert closed["online"] is False
    assert closed["line"] == "Сейчас отвечает только бот. Оставьте контакт — ответим завтра в 09:00."


def test_status_says_whether_an_operator_is_at_the_panel(trained_ru: Project) -> None:
    """Working hours are not enough: "operators are online" only while one is (issue 21)."""
    config = trained_ru.config
    noon = datetime(2030, 3, 5, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, working hours
    late = datetime(2030, 3, 5, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    presence = Presence(EventBus())
    nobody = status(config, WebChatOptions(), noon, presence)
    assert nobody["online"] is False
    assert nobody["line"] == (
        "Сейчас операторов нет на связи — отвечает бот. Оставьте контакт — ответим, "
        "как только оператор подключится."
    )
    presence.connect(7, online=False, department=None)  # logged in, but "away"
    assert status(config, WebChatOptions(), noon, presence)["online"] is False
    presence.set_status(7, True)
    online = status(config, WebChatOptions(), noon, presence)
    assert online["online"] is True and online["line"] == "Операторы на связи — отвечаем в чате."
    assert status(config, WebChatOptions(), late, presence)["online"] is True  # after hours, but she is there
    presence.disconnect(7)
    assert status(config, WebChatOptions(), late, presence)["line"].endswith("ответим завтра в 09:00.")


def test_an_english_bot_gets_an_english_window(en_project: Project) -> None:
    config = en_project.config
    late = datetime(2030, 3, 6, 3, 30, tzinfo=UTC)  # Tuesday 22:30 in New York
    shown = status(config, WebChatOptions(), late)
    assert shown["title"] == "Chat with us"
    assert shown["language"] == "en"
    assert shown["hours"] == ["Mon–Fri 09:00–21:00, Sat–Sun 10:00–18:00 (America/New_York)"]
    assert shown["line"] == "Only the bot answers now. Leave a contact and we answer tomorrow at 09:00."
