"""What the widget shows on a page: hidden or not, which invitation, and who is on duty.

The shop configures it in config.yml's ``channels.web`` section (``WebChatOptions``:
hidden pages and invitations by URL glob; the older top-level ``widget:`` section means
the same) and ``departments:`` (working hours). The server matches the globs, so the
widget's JavaScript never has to, and the hours line is computed from the same
``WorkingHours`` the dialogue uses for "a person answers from 9:00".
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.channels.base import ChannelOptions
from bot.events import NO_PRESENCE, Presence
from bot.hours import DAYS, WorkingHours, describe_opening
from bot.settings import BotdeskConfig

DAY_NAMES = {
    "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
WORDS = {
    "ru": {
        "daily": "ежедневно",
        "closed": "выходной",
        "online": "Операторы на связи — отвечаем в чате.",
        "nobody": "Сейчас операторов нет на связи — отвечает бот. Оставьте контакт — ответим, "
        "как только оператор подключится.",
        "offline": "Сейчас отвечает только бот. Оставьте контакт — ответим {when}.",
        "never": "Сейчас отвечает только бот.",
        "moscow": "по московскому времени",
    },
    "en": {
        "daily": "daily",
        "closed": "closed",
        "online": "Operators are online and answer in this chat.",
        "nobody": "No operator is online right now; the bot answers. Leave a contact and a person "
        "answers as soon as one connects.",
        "offline": "Only the bot answers now. Leave a contact and we answer {when}.",
        "never": "Only the bot answers now.",
        "moscow": "Moscow time",
    },
}


class WidgetInvitation(BaseModel):
    """A proactive line shown beside the chat button on matching pages, once per visitor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1, max_length=500, description="URL glob, e.g. '*/bikes*'")
    text: str = Field(min_length=1, max_length=300, description="e.g. 'Выбираете велосипед? Спросите нас'")
    delay_seconds: float = Field(default=15, ge=0, le=3600)


class GreetingButton(BaseModel):
    """A quick button under the greeting: pressing it sends ``payload`` (default: the title) as the
    customer's message; a payload like ``/human_request`` goes straight to that intent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60)
    payload: str | None = Field(default=None, min_length=1, max_length=200)


class WidgetGreeting(BaseModel):
    """What the window shows before the customer has written anything (not stored, not sent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Default: a short greeting in the bot's language",
    )
    buttons: list[GreetingButton] = Field(default_factory=list, max_length=8)


GREETINGS = {"ru": "Здравствуйте! Чем можем помочь?", "en": "Hello! How can we help?"}


class WebChatOptions(ChannelOptions):
    """The web chat widget (``channels.web``, or the older ``widget:``): a <script> tag on the pages."""

    title: str | None = Field(
        default=None, min_length=1, max_length=100, description="The window's heading; default by language"
    )
    hidden_pages: list[str] = Field(
        default_factory=list, description="URL globs where the widget stays hidden, e.g. '*/checkout*'"
    )
    invitations: list[WidgetInvitation] = Field(default_factory=list)
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Sites that may embed the widget (scheme://host[:port]); empty: any site",
    )
    messages_per_minute: int = Field(default=30, ge=1, le=600, description="Per visitor connection")
    history_limit: int = Field(default=100, ge=1, le=500, description="Messages shown again on reload")
    greeting: WidgetGreeting = Field(default_factory=WidgetGreeting)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"expected an origin like https://shop.example (no path), got {origin!r}")
        return [origin.lower() for origin in value]


def allowed_origin(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Any site when ``allowed_origins`` is empty; else those, and botdesk's own pages."""
    if not allowed or origin is None:
        return True  # not a browser page (curl, a test client): nothing to protect
    origin = origin.lower()
    return origin in allowed or (host is not None and urlsplit(origin).netloc == host.lower())


def title_of(options: WebChatOptions, language: str) -> str:
    """The window's heading: ``title``, else a plain one in the bot's language."""
    return options.title or ("Чат с магазином" if language == "ru" else "Chat with us")


def greeting_of(options: WebChatOptions, language: str) -> dict[str, Any] | None:
    """The greeting and its quick buttons as the widget gets them (None: switched off)."""
    greeting = options.greeting
    if not greeting.enabled:
        return None
    return {
        "text": greeting.text or GREETINGS.get(language, GREETINGS["en"]),
        "buttons": [{"title": b.title, "payload": b.payload or b.title} for b in greeting.buttons],
    }


def matches(url: str, pattern: str) -> bool:
    """A URL glob (``*/checkout*``), case-insensitive, against the whole URL."""
    return fnmatchcase(url.lower(), pattern.lower())


def page_settings(widget: WebChatOptions, url: str) -> dict[str, Any]:
    """``{"hidden": bool, "invitation": {id, text, delay_seconds} | None}`` for one page URL."""
    if any(matches(url, pattern) for pattern in widget.hidden_pages):
        return {"hidden": True, "invitation": None}
    for invitation in widget.invitations:
        if matches(url, invitation.pattern):
            key = hashlib.sha256(f"{invitation.pattern}\n{invitation.text}".encode()).hexdigest()[:12]
            return {
                "hidden": False,
                "invitation": {"id": key, "text": invitation.text, "delay_seconds": invitation.delay_seconds},
            }
    return {"hidden": False, "invitation": None}


def describe_hours(hours: WorkingHours, language: str) -> str:
    """The schedule as a line: "ежедневно 09:00–21:00 (по московскому времени)"."""
    words = WORDS.get(language, WORDS["en"])
    names = DAY_NAMES.get(language, DAY_NAMES["en"])
    parts = []
    for key, span in hours.schedule.items():
        days = key.strip().lower()
        if days in ("daily", "every day", "mon-sun"):
            shown_days = words["daily"]
        elif "-" in days:
            first, last = (DAYS.index(part.strip()) for part in days.split("-", 1))
            shown_days = f"{names[first]}–{names[last]}"
        else:
            shown_days = names[DAYS.index(days)]
        shown_span = words["closed"] if span.strip().lower() == "closed" else span.strip().replace("-", "–")
        parts.append(f"{shown_days} {shown_span}")
    zone = words["moscow"] if hours.timezone == "Europe/Moscow" else hours.timezone
    return f"{', '.join(parts)} ({zone})"


def status(
    config: BotdeskConfig, options: WebChatOptions, now: datetime, presence: Presence = NO_PRESENCE
) -> dict[str, Any]:
    """The window's status frame: can a person answer now, the hours, and the line to show.

    "Operators are online" only while one is at the panel and online (``presence``); when
    nobody is, the line says so and when a person answers: as soon as one connects (in
    working hours), or at the next opening. Without presence (not tracked) the hours decide.
    """
    language = config.language
    words = WORDS.get(language, WORDS["en"])
    departments = config.departments
    duties = [presence.duty(d, now) for d in departments]
    online = any(duty.online for duty in duties)
    if len(departments) == 1:
        hours = [describe_hours(departments[0].hours, language)]
    else:
        hours = [f"{d.name}: {describe_hours(d.hours, language)}" for d in departments]
    if online:
        line = words["online"]
    elif any(duty.open for duty in duties):
        line = words["nobody"]
    else:
        openings = [duty.opening for duty in duties if duty.opening is not None]
        if openings:
            line = words["offline"].format(when=describe_opening(min(openings), now, language))
        else:
            line = words["never"]
    return {
        "type": "status",
        "online": online,
        "hours": hours,
        "line": line,
        "title": title_of(options, language),
        "bot_label": config.bot.label,
        "bot_name": config.bot.name,
        "email": config.email.host is not None,  # whether "send me a copy" can work
        "language": language,
    }
