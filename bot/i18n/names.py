"""What the panel calls things: escalation reasons, channels, roles, intents, departments.

Ids (``human_request``, ``telegram``, ``delivery_terms``, ``support``) are for the code
and the data files; an operator reads names in their own language. Reasons, channels,
roles and ticket states are known to botdesk and translated in its catalog. Intents are
the bot's own: their names come from the ``title:`` an intent file gives them (the one
lookup is ``intent_title``), departments' from ``config.yml``. An id botdesk knows no
name for is shown humanised ("order_status" -> "Order status"), never raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.i18n.catalog import Translator


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


REASONS = {
    "human_request": N_("asked for a person"),
    "complaint": N_("complaint"),
    "unsure": N_("bot was unsure"),
    "misunderstood": N_("bot did not understand"),
    "two_stage_fallback": N_("not understood after 'did you mean'"),
    "did_not_help": N_("bot's answer did not help"),
    "repeated_question": N_("asked the same again"),
    "human_only": N_("only a person can do this"),
    "after_hours": N_("after hours"),
    "integration_unavailable": N_("a shop system did not answer"),
}
CHANNELS = {
    "web": N_("Website chat"),
    "webchat": N_("Website chat"),
    "widget": N_("Website chat"),
    "rest": N_("REST API"),
    "telegram": N_("Telegram"),
    "vk": N_("VK"),
    "whatsapp": N_("WhatsApp"),
    "email": N_("E-mail"),
    "shell": N_("Terminal"),
}
ROLES = {"operator": N_("operator"), "editor": N_("editor"), "admin": N_("admin")}
STATUSES = {"online": N_("online"), "away": N_("away")}
SENDERS = {"customer": N_("Customer"), "bot": N_("Bot"), "operator": N_("Operator"), "system": N_("System")}
TICKET_STATES = {
    "queued": N_("waiting"),
    "claimed": N_("taken"),
    "closed": N_("closed"),
    "returned": N_("returned to the bot"),
}
SLOTS = {
    "name": N_("name"),
    "phone": N_("phone"),
    "email": N_("e-mail"),
    "consent": N_("consent"),
    "interest": N_("interest"),
    "product": N_("product"),
    "order_id": N_("order number"),
    "order_number": N_("order number"),
    "city": N_("city"),
    "requested_slot": N_("question being asked"),
}
"""Slot names common to most bots; a bot's other slots are shown humanised."""
ATTACHMENTS = {
    "photo": N_("photo"),
    "document": N_("file"),
    "voice": N_("voice message"),
    "audio": N_("audio"),
    "video": N_("video"),
    "video_note": N_("video message"),
    "sticker": N_("sticker"),
    "animation": N_("GIF"),
    "location": N_("location"),
    "venue": N_("place"),
    "poll": N_("poll"),
    "dice": N_("dice"),
    "game": N_("game"),
    "story": N_("story"),
    "invoice": N_("invoice"),
    "contact": N_("contact"),
    "file": N_("file"),
    "image": N_("image"),
    "wall": N_("wall post"),
    "wall_reply": N_("comment on a wall post"),
    "link": N_("link"),
    "product": N_("product"),
    "gift": N_("gift"),
    "call": N_("call"),
    "interactive": N_("form answer"),
    "contacts": N_("contact"),
    "reaction": N_("reaction"),
}
"""Kinds of attachment a customer sends (Telegram's, VK's, WhatsApp's names; the widget's)."""
FIELDS = {
    "text": N_("text"),
    "name": N_("name"),
    "display_name": N_("name"),
    "phone": N_("phone"),
    "email": N_("e-mail"),
    "interest": N_("interest"),
    "resolution": N_("resolution"),
    "shortcut": N_("shortcut"),
    "operator_id": N_("operator"),
    "department": N_("department"),
    "message_ids": N_("messages"),
    "intent": N_("intent"),
    "response": N_("answer"),
    "file": N_("file"),
    "password": N_("password"),
    "login": N_("login"),
}
"""Request fields as a validation error names them (the panel's forms)."""


def humanise(identifier: str) -> str:
    """``order_status`` -> ``Order status``: an id for which nobody wrote a name."""
    words = identifier.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else identifier


def intent_title(titles: Mapping[str, str], intent: str) -> str:
    """The intent's title from its intent file (``title:``), else its id humanised.

    The one place intents get their display name (panel, dashboard, lead interest), so
    whatever the intent files learn to say reaches every screen at once.
    """
    return titles.get(intent) or humanise(intent)


def titles_of(data: Any) -> dict[str, str]:
    """The intent titles the training data carries (``TrainingData.titles``), if it reads them."""
    titles = getattr(data, "titles", None)
    return {str(k): str(v) for k, v in titles.items() if v} if isinstance(titles, Mapping) else {}


@dataclass(frozen=True)
class Names:
    """Display names for one operator's language: reasons, channels, intents, departments, roles."""

    t: Translator
    titles: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)

    def _known(self, table: Mapping[str, str], key: str | None) -> str:
        if not key:
            return ""
        return self.t.gettext(table[key]) if key in table else humanise(key)

    def reason(self, reason: str | None) -> str:
        return self._known(REASONS, reason) if reason else self.t.gettext("handed off")

    def channel(self, channel: str | None) -> str:
        return self._known(CHANNELS, channel)

    def role(self, role: str | None) -> str:
        return self._known(ROLES, role)

    def roles(self, roles: Iterable[str], own: str | None = None) -> str:
        """The account's own role first, then the granted ones: "оператор + редактор"."""
        ordered = ([own] if own else []) + sorted(r for r in roles if r != own)
        return " + ".join(self.role(r) for r in ordered)

    def status(self, status: str | None) -> str:
        return self._known(STATUSES, status)

    def ticket_state(self, status: str | None) -> str:
        return self._known(TICKET_STATES, status)

    def slot(self, slot: str) -> str:
        return self._known(SLOTS, slot)

    def intent(self, intent: str | None) -> str:
        if not intent:
            return ""
        if intent == "nlu_fallback":
            return self.t.gettext("not understood")
        return intent_title(self.titles, intent)

    def department(self, key: str | None) -> str:
        if not key:
            return ""
        return self.departments.get(key) or humanise(key)

    def for_javascript(self, intents: Iterable[str] = ()) -> dict[str, dict[str, str]]:
        """Every name the panel's scripts may need, by id (the scripts fall back to ``humanise``)."""
        t = self.t
        return {
            "reasons": {k: t.gettext(v) for k, v in REASONS.items()},
            "channels": {k: t.gettext(v) for k, v in CHANNELS.items()},
            "roles": {k: t.gettext(v) for k, v in ROLES.items()},
            "statuses": {k: t.gettext(v) for k, v in STATUSES.items()},
            "senders": {k: t.gettext(v) for k, v in SENDERS.items()},
            "slots": {k: t.gettext(v) for k, v in SLOTS.items()},
            "fields": {k: t.gettext(v) for k, v in FIELDS.items()},
            "attachments": {k: t.gettext(v) for k, v in ATTACHMENTS.items()},
            "intents": {i: self.intent(i) for i in sorted({*intents, *self.titles})},
            "departments": dict(self.departments),
        }
