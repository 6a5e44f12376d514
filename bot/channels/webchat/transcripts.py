"""A copy of the dialogue by email, at the customer's request.

The customer names an address in the widget; the transcript of their latest
conversation on that channel (who said what, when, the bot labelled as the bot) goes
out as plain text with an HTML alternative (every text escaped). Guarded against
misuse: the address is checked, and each conversation and each address gets only a
few copies an hour (``email.per_conversation_per_hour``; counted in this process).
"""

from __future__ import annotations

import html
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import BotdeskError
from bot.mailer import Mailer, MailError
from bot.settings import BotdeskConfig
from bot.store import Database, Sender
from bot.store.channel_history import conversation_said, latest_conversation

MAX_LINES = 500
ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}$"
)
TEXTS = {
    "ru": {
        "you": "Вы",
        "operator": "{name} (оператор)",
        "heading": "Копия вашего диалога — {title}",
        "subject": "Копия вашего диалога",
        "times": "Время указано {zone}.",
        "moscow": "по Москве",
        "zone": "в часовом поясе {zone}",
        "footer": "Вы получили это письмо, потому что попросили копию диалога в чате.",
        "off": "Отправка по email не настроена в этом магазине.",
        "bad_address": "Проверьте адрес email: например, name@example.ru.",
        "nothing": "Пока нечего отправлять: в диалоге нет сообщений.",
        "limit": "Копию уже отправляли несколько раз; попробуйте через час.",
        "failed": "Не получилось отправить письмо; попробуйте позже.",
        "sent": "Копия диалога отправлена на {address}.",
    },
    "en": {
        "you": "You",
        "operator": "{name} (operator)",
        "heading": "A copy of your conversation — {title}",
        "subject": "A copy of your conversation",
        "times": "Times are {zone}.",
        "moscow": "Moscow time",
        "zone": "in the {zone} time zone",
        "footer": "You got this email because you asked for a copy of the chat.",
        "off": "Sending by email is not set up for this shop.",
        "bad_address": "Check the email address, e.g. name@example.com.",
        "nothing": "Nothing to send yet: the conversation has no messages.",
        "limit": "A copy was sent several times already; try again in an hour.",
        "failed": "The email could not be sent; try again later.",
        "sent": "A copy of the conversation was sent to {address}.",
    },
}


class TranscriptError(BotdeskError):
    """A transcript that cannot be sent; the message is for the customer, in the bot's language."""


@dataclass(frozen=True)
class Line:
    at: datetime
    sender: str  # customer, bot, operator, system
    who: str
    text: str


def check_address(address: str, language: str = "ru") -> str:
    """The address, trimmed, if it looks deliverable; no header tricks (newlines, commas, names)."""
    address = address.strip()
    if len(address) > 254 or not ADDRESS.match(address):
        raise TranscriptError(TEXTS[language]["bad_address"])
    return address


async def transcript_lines(
    session: AsyncSession, conversation_id: int, bot_label: str, language: str = "ru"
) -> list[Line]:
    """The conversation's messages, oldest first, each with who said it (the bot by its label)."""
    texts = TEXTS[language]
    lines = []
    for said in await conversation_said(session, conversation_id, MAX_LINES):
        message = said.message
        if not message.text:  # blanked: answers given before consent was refused
            continue
        if message.sender == Sender.CUSTOMER:
            who = texts["you"]
        elif message.sender == Sender.OPERATOR:
            who = texts["operator"].format(name=said.operator_name or "")
        else:
            who = bot_label
        lines.append(Line(message.created_at, str(message.sender), who, message.text))
    return lines


def render(lines: list[Line], title: str, zone: ZoneInfo, language: str = "ru") -> tuple[str, str]:
    """The transcript as (plain text, HTML); the HTML escapes every text it shows."""
    texts = TEXTS[language]
    heading = texts["heading"].format(title=title)
    zone_name = str(zone)
    shown_zone = texts["moscow"] if zone_name == "Europe/Moscow" else texts["zone"].format(zone=zone_name)
    times = texts["times"].format(zone=shown_zone)
    plain = [heading, times, ""]
    rows = []
    for line in lines:
        stamp = line.at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
        if line.sender == "system":
            plain.append(f"[{stamp}] — {line.text}")
        else:
            plain.append(f"[{stamp}] {line.who}: {line.text}")
        rows.append(
            f'<tr><td style="color:#777;white-space:nowrap;vertical-align:top">{html.escape(stamp)}</td>'
            f'<td style="vertical-align:top"><b>{html.escape(line.who)}</b></td>'
            f'<td style="white-space:pre-wrap">{html.escape(line.text)}</td></tr>'
        )
    plain += ["", texts["footer"]]
    body = (
        f'<!doctype html><html><body style="font-family:sans-serif">'
        f"<h2>{html.escape(heading)}</h2><p>{html.escape(times)}</p>"
        f'<table cellpadding="4">{"".join(rows)}</table>'
        f'<p style="color:#777">{html.escape(texts["footer"])}</p></body></html>'
    )
    return "\n".join(plain) + "\n", body


class SlidingLimit:
    """At most ``limit`` events per key within ``window``."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[datetime]] = {}

    def allow(self, key: str, now: datetime) -> bool:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 10_000:  # forget idle keys
            self._events = {k: v for k, v in self._events.items() if v}
        return True


class TranscriptService:
    """Builds and sends transcripts; one per server (it keeps the rate limits)."""

    def __init__(
        self, config: BotdeskConfig, title: str, mailer: Mailer | None, clock: Callable[[], datetime]
    ) -> None:
        self.config = config
        self.title = title
        self.mailer = mailer
        self.clock = clock
        per_hour = config.email.per_conversation_per_hour
        self.per_conversation = SlidingLimit(per_hour, timedelta(hours=1))
        self.per_address = SlidingLimit(per_hour * 2, timedelta(hours=1))

    @property
    def language(self) -> str:
        return self.config.language

    async def send(self, db: Database, channel: str, external_id: str, address: str) -> str:
        """Email the latest conversation of this customer; the sentence to show them."""
        texts = TEXTS[self.language]
        if self.mailer is None:
            raise TranscriptError(texts["off"])
        address = check_address(address, self.language)
        async with db.reader() as session:
            conversation_id = await latest_conversation(session, channel, external_id)
            lines = (
                await transcript_lines(session, conversation_id, self.config.bot.label, self.language)
                if conversation_id is not None
                else []
            )
        if conversation_id is None or not lines:
            raise TranscriptError(texts["nothing"])
        now = self.clock()
        if not self.per_conversation.allow(str(conversation_id), now) or not self.per_address.allow(
            address.lower(), now
        ):
            raise TranscriptError(texts["limit"])
        zone = ZoneInfo(self.config.departments[0].hours.timezone)
        plain, body = render(lines, self.title, zone, self.language)
        message = EmailMessage()
        message["To"] = address
        message["Subject"] = self.config.email.subject or texts["subject"]
        message.set_content(plain)
        message.add_alternative(body, subtype="html")
        try:
            await self.mailer.send(message)
        except MailError:
            raise TranscriptError(texts["failed"]) from None
        return texts["sent"].format(address=address)
