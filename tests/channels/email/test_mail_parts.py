"""The pure parts of the e-mail channel: HTML as text, automatic mail, thread headers, parsing, composing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from bot.channels.email.autoreply import automatic_reason
from bot.channels.email.compose import Thread, compose
from bot.channels.email.html_text import MAX_HTML_CHARS, html_to_text
from bot.channels.email.parse import ParsedMail, parse_mail
from bot.channels.email.threads import (
    MAX_REFERENCES,
    base_subject,
    header_key,
    looks_like_ours,
    message_ids,
    new_message_id,
    references_header,
    reply_subject,
    thread_keys,
)
from bot.messages import OutboundMessage
from tests.helpers.email import IVAN, SHOP, customer_mail

OWN = {SHOP}


# ---- HTML -------------------------------------------------------------------------------------
def test_html_keeps_the_words_and_drops_what_would_run_or_style() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body onload='steal()'><p>Здравствуйте!</p><p>Где&nbsp;мой <b>заказ</b> &amp; чек?</p>"
        "<noscript>включите JS</noscript><ul><li>один</li><li>два</li></ul>"
        "<iframe src='x'>фрейм</iframe><svg><text>svg</text></svg></body></html>"
    )
    assert html_to_text(html) == "Здравствуйте!\n\nГде мой заказ & чек?\n\n- один\n- два"


@pytest.mark.parametrize(
    "marker",
    [
        '<div class="gmail_quote">On Mon, Shop wrote:<blockquote>old</blockquote></div>',
        '<div id="divRplyFwdMsg"><b>От:</b> Магазин<br><b>Отправлено:</b> пн</div><div>old</div>',
        '<div class="moz-cite-prefix">05.01.2027, Shop wrote:</div><blockquote type="cite">old</blockquote>',
        '<blockquote type="cite">old</blockquote>',
        '<div id="appendonsend"></div><hr><div>old</div>',
    ],
)
def test_clients_quoted_history_is_cut(marker: str) -> None:
    assert html_to_text(f"<div>Спасибо!</div>{marker}") == "Спасибо!"


def test_a_plain_blockquote_becomes_quoted_lines() -> None:
    assert html_to_text("<p>Ответ</p><blockquote>вопрос<br>ещё</blockquote>") == "Ответ\n\n> вопрос\n> ещё"


def test_breaks_tables_and_preformatted_text() -> None:
    html = "a<br>b<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table><pre>x\n  y</pre>"
    assert html_to_text(html) == "a\nb\n\n1 2\n3\n\nx\n  y"


@pytest.mark.parametrize(
    "html",
    [
        "<p>unclosed <b>bold <i>italic",
        "</div></p>stray ends<p>",
        "<!-- comment --><p>ok",
        "<![CDATA[x]]>ok",
        "<",
    ],
)
def test_broken_html_gives_text_not_an_error(html: str) -> None:
    assert isinstance(html_to_text(html), str)


def test_huge_html_is_cut_before_parsing() -> None:
    text = html_to_text("<p>" + "я" * (MAX_HTML_CHARS + 1000) + "</p>")
    assert len(text) == MAX_HTML_CHARS - len("<p>")


# ---- automatic mail ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-submitted"),
        ({"Auto-Submitted": "auto-generated; type=vacation"}, "auto-submitted"),
        ({"X-Autoreply": "yes"}, "auto-reply header"),
        ({"X-Autorespond": "Out of office"}, "auto-reply header"),
        ({"Precedence": "bulk"}, "precedence bulk"),
        ({"Precedence": "junk"}, "precedence junk"),
        ({"Precedence": "list"}, "precedence list"),
        ({"List-Id": "<news.example.com>"}, "mailing list"),
        ({"List-Unsubscribe": "<mailto:unsubscribe@example.com>"}, "mailing list"),
        ({"Return-Path": "<>"}, "bounce (empty return path)"),
    ],
)
def test_automatic_mail_is_recognised(headers: dict[str, str], reason: str) -> None:
    mail = customer_mail("текст", headers=headers)
    assert automatic_reason(mail, IVAN, OWN) == reason


@pytest.mark.parametrize(
    "sender", ["mailer-daemon@example.com", "MAILER-DAEMON@mx.example.com", "postmaster@x.ru"]
)
def test_bounce_senders_are_recognised(sender: str) -> None:
    assert (
        automatic_reason(customer_mail("x", sender=sender), sender.lower(), OWN)
        == "bounce or no-reply sender"
    )


def test_delivery_reports_are_recognised() -> None:
    report = EmailMessage()
    report["From"] = "robot@mx.example.com"
    report.set_content("Delivery failed")
    report.make_mixed()
    status = EmailMessage()
    status.set_content(b"Final-Recipient: rfc822; a@b.c\n", maintype="message", subtype="delivery-status")
    report.attach(status)
    assert automatic_reason(report, "robot@mx.example.com", OWN) == "report (bounce or receipt)"
    report.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"; boundary="b"')
    assert automatic_reason(report, "robot@mx.example.com", OWN) == "report (bounce or receipt)"


def test_a_persons_mail_is_not_automatic() -> None:
    mail = customer_mail("Где мой заказ?", headers={"Auto-Submitted": "no", "Precedence": "normal"})
    assert automatic_reason(mail, IVAN, OWN) is None
    assert automatic_reason(mail, None, OWN) == "no sender address"
    assert automatic_reason(mail, SHOP, OWN) == "sent from our own address"


# ---- thread headers ---------------------------------------------------------------------------
def test_message_ids_and_thread_keys() -> None:
    assert message_ids("<a@x>  <b@y>\r\n <a@x>") == ["a@x", "b@y"]
    assert message_ids("bare@host.example") == ["bare@host.example"]
    assert message_ids("no identifier here") == []
    assert message_ids(None) == []
    assert thread_keys("<p@x>", "<root@x> <mid@x> <p@x>") == ["p@x", "mid@x", "root@x"]
    long_id = "x" * 300 + "@example.com"
    assert header_key(long_id).startswith("sha256:") and len(header_key(long_id)) <= 255
    assert header_key("short@x") == "short@x"


def test_subjects_carry_one_reply_prefix() -> None:
    assert reply_subject("Re: RE: Ответ: Fwd: Заказ 123", "Магазин") == "Re: Заказ 123"
    assert reply_subject("Re[3]: Заказ", "Магазин") == "Re: Заказ"
    assert reply_subject("", "Магазин") == "Магазин"
    assert base_subject("  Отв:   Доставка \n в Москву ") == "Доставка в Москву"


def test_our_ids_and_long_reference_chains() -> None:
    ours = new_message_id("botdesk.test")
    assert looks_like_ours(ours, "botdesk.test") and not looks_like_ours(ours, "other.test")
    assert not looks_like_ours("botdesk.123@botdesk.test", "botdesk.test")
    chain = [f"m{i}@x" for i in range(40)]
    written = message_ids(references_header(chain))
    assert len(written) == MAX_REFERENCES and written[0] == "m0@x" and written[-1] == "m39@x"


# ---- parsing ----------------------------------------------------------------------------------
def parse(mail: EmailMessage | bytes, **limits: int) -> ParsedMail:
    raw = mail if isinstance(mail, bytes) else bytes(mail)
    return parse_mail(
        raw, max_text_chars=limits.get("text", 4000), max_attachment_bytes=limits.get("file", 1000)
    )


def test_plain_part_preferred_and_quotes_stripped() -> None:
    mail = customer_mail(
        "Где заказ?\n\nOn Mon, Jan 5, 2027 at 10:00 Shop <shop@x.ru> wrote:\n> old",
        html="<p>HTML version</p>",
        subject="Re: Заказ",
        in_reply_to="a@x",
        references=["root@x", "a@x"],
    )
    parsed = parse(mail)
    assert parsed.text == "Где заказ?"
    assert parsed.subject == "Заказ"
    assert parsed.thread == ["a@x", "root@x"]
    assert parsed.sender == IVAN and parsed.sender_name == "Иван Петров"


def test_the_subject_is_the_question_when_the_body_is_empty() -> None:
    parsed = parse(customer_mail("", subject="Как оплатить заказ?"))
    assert parsed.text == "Как оплатить заказ?"


@pytest.mark.parametrize("charset", ["koi8-r", "windows-1251", "utf-8"])
def test_russian_charsets_are_read(charset: str) -> None:
    raw = (
        f"From: =?{charset}?b?"
        + base64.b64encode("Иван".encode(charset)).decode()
        + f"?= <ivan@example.com>\r\nSubject: test\r\nMessage-ID: <c@x>\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "Где мой заказ?\r\n".encode(charset)
    parsed = parse(raw)
    assert parsed.text == "Где мой заказ?"
    assert parsed.sender_name == "Иван"


def test_an_unknown_charset_and_a_broken_sender_do_not_raise() -> None:
    raw = (
        b"From: not an address\r\nSubject: =?bogus?q?x?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\n\xd0\x93\xd0\xb4\xd0\xb5?\r\n"
    )
    parsed = parse(raw)
    assert parsed.sender is None
    assert parsed.text == "Где?"
    assert parsed.key.startswith("botdesk-noid:")
    assert parse(raw).key == parsed.key  # the same bytes, the same key


def test_long_text_is_cut_and_files_are_listed() -> None:
    mail = customer_mail(
        "слово " * 2000,
        attachments=[
            ("small.txt", "text/plain", b"12345"),
            ("big.bin", "application/octet-stream", b"x" * 5000),
        ],
    )
    parsed = parse(mail, text=500, file=1000)
    assert len(parsed.text) == 500 and parsed.truncated
    small, big = parsed.attachments
    assert (small.file_name, small.size, small.data) == ("small.txt", 5, b"12345")
    assert (big.file_name, big.size, big.data) == ("big.bin", 5000, None)  # over the limit: not kept


# ---- composing --------------------------------------------------------------------------------
def outbound(text: str, sender: str = "bot", name: str = "🤖 Бот", **extra: object) -> OutboundMessage:
    return OutboundMessage("email", IVAN, 1, text, sender, name, **extra)  # type: ignore[arg-type]


def test_a_bot_turn_is_one_labelled_mail_in_the_thread() -> None:
    messages = [
        outbound("Оплатить можно картой."),
        outbound("Ответ помог?", buttons=[{"title": "Да", "payload": "/affirm"}, {"title": "Нет"}]),
    ]
    mail = compose(
        messages,
        to=IVAN,
        sender=SHOP,
        sender_name="Бот ВелоМаркета",
        thread=Thread("q@example.com", ["root@example.com"], "Оплата"),
        message_id="botdesk.1@botdesk.test",
        default_subject="ВелоМаркет",
        language="ru",
        now=datetime(2027, 1, 5, 10, tzinfo=UTC),
    )
    assert mail["Subject"] == "Re: Оплата"
    assert mail["In-Reply-To"] == "<q@example.com>"
    assert mail["References"] == "<root@example.com> <q@example.com>"
    assert mail["Message-ID"] == "<botdesk.1@botdesk.test>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["To"] == IVAN and "Бот ВелоМаркета" in str(mail["From"])
    body = mail.get_content()
    assert body.startswith("🤖 Бот: Оплатить можно картой.\n\n🤖 Бот: Ответ помог?")
    assert "Ответьте одним из вариантов:\n  • Да\n  • Нет" in body


def test_an_operators_mail_is_a_persons() -> None:
    mail = compose(
        [outbound("Сейчас посмотрю.", sender="operator", name="Анна")],
        to=IVAN,
        sender=SHOP,
        sender_name="Анна",
        thread=Thread(None, [], None),
        message_id="botdesk.2@botdesk.test",
        default_subject="ВелоМаркет",
        language="ru",
        now=datetime(2027, 1, 5, 10, tzinfo=UTC),
    )
    assert mail["Auto-Submitted"] is None and mail["In-Reply-To"] is None
    assert mail["Subject"] == "ВелоМаркет"
    assert mail.get_content() == "Анна: Сейчас посмотрю.\n"
