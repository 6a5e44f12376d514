"""The Telegram channel's pure parts: splitting, keyboards, settings and environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.channels.telegram import split_text, telegram_options
from bot.channels.telegram.options import TelegramSettings
from bot.channels.telegram.outbound import MAX_CHARS, render, utf16_len
from bot.errors import ConfigError
from bot.messages import OutboundMessage

TOKEN = "123456:ABC-def_ghi"


def said(text: str, **extra: object) -> OutboundMessage:
    return OutboundMessage("telegram", "42", 1, text, "bot", "🤖 Бот", **extra)  # type: ignore[arg-type]


def test_short_text_is_one_part() -> None:
    assert split_text("привет") == ["привет"]


def test_split_prefers_paragraphs_then_lines_then_spaces() -> None:
    text = "а" * 60 + "\n\n" + "б" * 30 + "\n" + "в" * 30
    assert split_text(text, 100) == ["а" * 60, "б" * 30 + "\n" + "в" * 30]
    assert split_text("один два три", 9) == ["один два", "три"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]  # one endless word is cut


def test_split_counts_emoji_as_telegram_does() -> None:
    text = "🚲" * 3000  # 6000 UTF-16 units: two messages, though 3000 characters
    parts = split_text(text)
    assert len(parts) == 2 and all(utf16_len(p) <= MAX_CHARS for p in parts) and "".join(parts) == text


def test_every_part_of_a_long_message_is_labelled_and_the_keyboard_goes_last() -> None:
    message = said("слово " * 1500, buttons=[{"title": "Да", "payload": "/affirm"}])
    parts = render(message, "inline")
    assert len(parts) == 3 and all(p.text.startswith("🤖 Бот: ") for p in parts)
    assert all(utf16_len(p.text) <= MAX_CHARS for p in parts)
    assert [p.markup is None for p in parts] == [True, True, False]
    assert isinstance(parts[-1].markup, InlineKeyboardMarkup)


def test_keyboards_by_style_and_for_the_phone_question() -> None:
    buttons = [{"title": "Да", "payload": "/affirm"}, {"title": "Длинный", "payload": "/" + "x" * 80}]
    (inline,) = render(said("?", buttons=buttons), "inline")
    assert isinstance(inline.markup, InlineKeyboardMarkup)
    rows = inline.markup.inline_keyboard
    assert rows[0][0].callback_data == "/affirm" and rows[1][0].callback_data == "Длинный"  # over 64 bytes
    (reply,) = render(said("?", buttons=buttons), "reply")
    assert isinstance(reply.markup, ReplyKeyboardMarkup) and reply.markup.one_time_keyboard
    (phone,) = render(said("Ваш номер?"), "inline", ask_contact="📱 Мой номер")
    assert isinstance(phone.markup, ReplyKeyboardMarkup)
    assert phone.markup.keyboard[0][0].request_contact is True
    (plain,) = render(said("Спасибо"), "inline", remove_keyboard=True)
    assert isinstance(plain.markup, ReplyKeyboardRemove)


def test_environment_gives_token_addresses_and_secret() -> None:
    assert telegram_options({}) is None
    options = telegram_options({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert options is not None and options.base_url == "https://api.telegram.org/bot"
    assert options.base_file_url == "https://api.telegram.org/file/bot"
    assert len(options.webhook_secret) >= 32  # generated
    local = telegram_options(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
            "TELEGRAM_WEBHOOK_SECRET": "s_1",
        }
    )
    assert local is not None and local.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert local.webhook_secret == "s_1"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"TELEGRAM_BOT_TOKEN": "not a token"}, "BotFather"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "ftp://x/bot"}, "TELEGRAM_API_BASE_URL"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "with space"}, "TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_malformed_environment_is_a_clear_error(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        telegram_options(env)
    assert "ABC-def" not in str(caught.value)  # the token never appears in an error


def test_webhook_mode_needs_an_https_url() -> None:
    with pytest.raises(ValidationError, match="webhook_url is required"):
        TelegramSettings(mode="webhook")
    with pytest.raises(ValidationError, match="https"):
        TelegramSettings(mode="webhook", webhook_url="http://shop.example/webhooks/telegram")
    assert TelegramSettings(mode="webhook", webhook_url="https://shop.example/webhooks/telegram")
