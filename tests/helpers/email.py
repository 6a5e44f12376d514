"""The e-mail channel's tests: the shop's mailbox, customers, their mail, botdesk configured for them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import aiosmtplib

from bot.clock import utc_now
from bot.project import Project
from tests.helpers.dovecot import Dovecot, SmtpSink
from tests.helpers.server import project_with

SHOP = "shop@botdesk.test"
SHOP_PASSWORD = "shop mailbox password"
IVAN = "ivan@example.com"
PETR = "petr@example.com"
CUSTOMERS = {IVAN: "ivan password", PETR: "petr password"}


def new_id(domain: str = "example.com") -> str:
    return f"{uuid.uuid4().hex}@{domain}"


def customer_mail(
    text: str | None,
    *,
    sender: str = IVAN,
    name: str | None = "Иван Петров",
    subject: str = "Вопрос",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> EmailMessage:
    """A mail a customer writes to the shop (``text``: its plain part; ``html``: an HTML part)."""
    mail = EmailMessage()
    mail["From"] = formataddr((name, sender)) if name else sender
    mail["To"] = SHOP
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utc_now())
    mail["Message-ID"] = f"<{message_id or new_id(sender.rpartition('@')[2])}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{item}>" for item in references)
    for key, value in (headers or {}).items():
        mail[key] = value
    if text is not None:
        mail.set_content(text)
        if html is not None:
            mail.add_alternative(html, subtype="html")
    elif html is not None:
        mail.set_content(html, subtype="html")
    for name_, mime, data in attachments or []:
        maintype, subtype = mime.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name_)
    return mail


def answer_to(mail: EmailMessage, text: str, *, sender: str = IVAN) -> EmailMessage:
    """The customer's reply to ``mail`` (ours), as a mail client writes it: quoting it below."""
    parent = str(mail["Message-ID"]).strip("<> ")
    chain = [item.strip("<>") for item in str(mail.get("References", "")).split()] + [parent]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    quoted = "\n".join(f"> {line}" for line in str(body.get_content()).splitlines())
    return customer_mail(
        f"{text}\n\nПн, 5 янв. 2027 г. в 10:00, Магазин <{SHOP}>:\n{quoted}\n",
        sender=sender,
        subject=str(mail["Subject"]),
        in_reply_to=parent,
        references=chain,
    )


async def send_by_smtp(sink: SmtpSink, mail: EmailMessage) -> None:
    """The customer's mail client sends it: by SMTP, through the sink, into the shop's mailbox."""
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=sink.port, timeout=10)


def email_project(
    trained_ru: Project, target: Path, dovecot: Dovecot, sink: SmtpSink, **options: Any
) -> Project:
    """The default bot with ``channels.email`` pointing at the test's dovecot and SMTP sink."""
    extra = "".join(f"    {key}: {value}\n" for key, value in options.items())
    section = (
        "channels:\n"
        "  email:\n"
        f"    address: {SHOP}\n"
        f"    imap: {{host: 127.0.0.1, port: {dovecot.port}, security: plain}}\n"
        f"    smtp: {{host: 127.0.0.1, port: {sink.port}, security: plain}}\n"
        "    timeout_seconds: 5\n"
        f"{extra}"
    )
    return project_with(trained_ru, target, {"channels:\n": section})


async def wait_until(check: Callable[[], Any], seconds: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` (run in a thread: it may read the mailbox) until it returns something true."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await asyncio.to_thread(check)
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)
