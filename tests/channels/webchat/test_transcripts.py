"""A copy of the dialogue by email: built, escaped, rate-limited, sent to a real local SMTP server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from bot.channels.webchat.transcripts import Line, TranscriptError, check_address, render
from bot.project import Project
from tests.channels.webchat.test_socket import next_frame, opened, say, widget
from tests.helpers.server import AppFactory, Clock, project_with, serve

EMAIL_OFF = {
    "  host: null                        # e.g. smtp.yandex.ru": "  host: 127.0.0.1",
    "  sender: null  ": "  sender: shop@velomarket.test  ",
    "  starttls: true  ": "  starttls: false  ",
}


class Inbox:
    """An aiosmtpd handler that keeps what it is given."""

    def __init__(self) -> None:
        self.mail: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mail.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def emailing_project(trained_ru: Project, target: Path, port: int) -> Project:
    return project_with(trained_ru, target, {**EMAIL_OFF, "  port: 587\n": f"  port: {port}\n"})


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


async def ask_copy(sock: Any, email: str) -> dict[str, Any]:
    await sock.send(json.dumps({"type": "transcript", "email": email}))
    return await next_frame(sock)


def test_the_transcript_says_who_said_what_and_when_and_escapes_the_html() -> None:
    at = datetime(2030, 3, 5, 9, 0, tzinfo=UTC)
    lines = [
        Line(at, "customer", "Вы", "<script>alert(1)</script>"),
        Line(at + timedelta(minutes=1), "bot", "🤖 Бот", "Здравствуйте!"),
        Line(at + timedelta(minutes=2), "system", "🤖 Бот", "Анна (оператор) подключился к чату."),
        Line(at + timedelta(minutes=3), "operator", "Анна (оператор)", "Чем помочь?"),
    ]
    plain, html = render(lines, "ВелоМаркет — чат", ZoneInfo("Europe/Moscow"))
    assert plain.splitlines()[:2] == ["Копия вашего диалога — ВелоМаркет — чат", "Время указано по Москве."]
    assert "[05.03.2030 12:00] Вы: <script>alert(1)</script>" in plain
    assert "[05.03.2030 12:01] 🤖 Бот: Здравствуйте!" in plain
    assert "[05.03.2030 12:02] — Анна (оператор) подключился к чату." in plain
    assert "[05.03.2030 12:03] Анна (оператор): Чем помочь?" in plain
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "address",
    ["", "anna", "anna@", "@example.ru", "anna@example", "a b@example.ru", "anna@example.ru\nBcc: x@y.ru"],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(TranscriptError, match="Проверьте адрес email"):
        check_address(address)


def test_good_addresses_pass() -> None:
    assert check_address(" Anna.Petrova+shop@mail.example.ru ") == "Anna.Petrova+shop@mail.example.ru"


async def test_the_customer_gets_a_copy_by_email(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    app = make_app(emailing_project(trained_ru, tmp_path / "bot", port))
    async with serve(app) as (base, _), widget(base) as sock:
        status, _ = await opened(sock)
        await say(sock, "<script>alert(1)</script>", "x1")
        await say(sock, "привет", "x2")
        answer = await ask_copy(sock, "anna@example.ru")
    assert status["email"] is True
    assert answer == {
        "type": "transcript",
        "sent": True,
        "detail": "Копия диалога отправлена на anna@example.ru.",
    }
    ((sender, recipients, message),) = inbox.mail
    assert sender == "shop@velomarket.test" and recipients == ["anna@example.ru"]
    assert message["Subject"] == "Копия вашего диалога с ВелоМаркетом"
    plain, html = parts(message)
    assert "Вы: <script>alert(1)</script>" in plain
    assert "Вы: привет" in plain and "🤖 Бот: Здравствуйте" in plain
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_copies_are_limited_per_conversation_and_hour(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, smtp: tuple[Inbox, int], clock: Clock
) -> None:
    inbox, port = smtp
    app = make_app(emailing_project(trained_ru, tmp_path / "bot", port))
    async with serve(app) as (base, _), widget(base) as sock:
        await opened(sock)
        await say(sock, "привет", "x1")
        answers = [await ask_copy(sock, f"anna{n}@example.ru") for n in range(4)]
        clock.now += timedelta(minutes=61)
        later = await ask_copy(sock, "anna@example.ru")
    assert [a["type"] for a in answers] == ["transcript"] * 3 + ["error"]
    assert answers[3] == {
        "type": "error",
        "detail": "Копию уже отправляли несколько раз; попробуйте через час.",
        "about": "transcript",
    }
    assert later["type"] == "transcript", later
    assert len(inbox.mail) == 4


async def test_clear_answers_when_email_cannot_work(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    async with serve(make_app()) as (base, _), widget(base) as sock:  # the default bot: email is off
        status, _ = await opened(sock)
        await say(sock, "привет", "x1")
        off = await ask_copy(sock, "anna@example.ru")
    down = make_app(emailing_project(trained_ru, tmp_path / "bot", free_port()))  # nobody listens there
    async with serve(down) as (base, _), widget(base, visitor="a-visitor-with-nothing-yet") as sock:
        await opened(sock)
        nothing = await ask_copy(sock, "anna@example.ru")
        await say(sock, "привет", "x1")
        bad = await ask_copy(sock, "anna@example")
        failed = await ask_copy(sock, "anna@example.ru")
    assert status["email"] is False
    assert off["detail"] == "Отправка по email не настроена в этом магазине."
    assert nothing["detail"] == "Пока нечего отправлять: в диалоге нет сообщений."
    assert bad["detail"] == "Проверьте адрес email: например, name@example.ru."
    assert failed["detail"] == "Не получилось отправить письмо; попробуйте позже."
    assert {off["type"], nothing["type"], bad["type"], failed["type"]} == {"error"}
