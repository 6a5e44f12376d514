"""The webhook's JSON as botdesk's messages: customers' messages in, delivery statuses of ours.

Only this package knows WhatsApp's payloads. One webhook call carries
``entry[].changes[].value`` objects of the business number; each may hold ``messages``
(the customer's) and ``statuses`` (of messages we sent). Everything is checked as it is
read: a piece of the wrong shape is skipped and counted, never an exception, since the
body came signed from Meta but its shape is still input.

- ``text`` is the customer's words; a pressed reply button or list row
  (``interactive.button_reply`` / ``list_reply``) goes in as its id, which is the payload
  the bot's button carries (``/affirm``), as Rasa's channels do; a template's quick-reply
  ``button`` as its payload.
- ``image``, ``document``, ``audio``, ``video`` and ``sticker`` become an attachment
  whose file the operator opens through the server (``FILE_ROUTE``, the media id); a
  caption counts as text. ``location`` and ``contacts`` become an attachment of that
  type without a file; a reaction is not a message and is skipped.
- The message id (``wamid``) is the message's id in botdesk: a webhook Meta sends again
  is stored once (``InboundMessage.message_id``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.messages import InboundMessage

CHANNEL = "whatsapp"
FILE_ROUTE = "/api/files/whatsapp/{file_id}"
FILE_KINDS = ("image", "document", "audio", "video", "sticker")
SKIPPED_KINDS = frozenset({"reaction", "system", "ephemeral", "request_welcome"})
WA_ID = re.compile(r"^[0-9]{5,20}$")
MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_ID_CHARS = 255
MAX_NAME_CHARS = 200
MAX_CAPTION_CHARS = 4096
MAX_BUTTON_ID_CHARS = 256


@dataclass(frozen=True)
class StatusUpdate:
    """What happened to a message we sent: ``sent``, ``delivered``, ``read`` or ``failed`` (with why)."""

    message_id: str
    status: str
    recipient_id: str
    error_code: int | None = None
    error_title: str | None = None


@dataclass
class WebhookBatch:
    """The messages and statuses of one webhook call; ``skipped``: pieces of an unknown shape."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    skipped: int = 0
    other_numbers: int = 0  # values for another phone number of the same app: not ours


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_webhook(data: Any, phone_number_id: str) -> WebhookBatch:
    """Every message and status for ``phone_number_id`` in a webhook body (already valid JSON).

    Example::

        batch = parse_webhook(parse_json_input(body), "106540352242922")
        for inbound in batch.messages:
            await conversations.handle_and_account(inbound)
    """
    batch = WebhookBatch()
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        batch.skipped += 1
        return batch
    for entry in _dicts(data.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                batch.skipped += 1
                continue
            metadata = value.get("metadata")
            if isinstance(metadata, dict) and str(metadata.get("phone_number_id")) != phone_number_id:
                batch.other_numbers += 1
                continue
            names = _profile_names(value.get("contacts"))
            for message in _dicts(value.get("messages")):
                inbound = to_inbound(message, names)
                if inbound is None:
                    batch.skipped += 1
                else:
                    batch.messages.append(inbound)
            for status in _dicts(value.get("statuses")):
                update = to_status(status)
                if update is None:
                    batch.skipped += 1
                else:
                    batch.statuses.append(update)
    return batch


def _profile_names(contacts: Any) -> dict[str, str]:
    """wa_id -> the name the customer gave in their WhatsApp profile."""
    names = {}
    for contact in _dicts(contacts):
        wa_id, profile = contact.get("wa_id"), contact.get("profile")
        name = _text(profile.get("name"), MAX_NAME_CHARS) if isinstance(profile, dict) else None
        if isinstance(wa_id, str) and name and name.strip():
            names[wa_id] = name.strip()
    return names


def attachment_of(kind: str, body: Any) -> dict[str, Any] | None:
    """A file's attachment (``file_id`` is WhatsApp's media id), or None when it has none."""
    if not isinstance(body, dict):
        return None
    media_id = body.get("id")
    if not isinstance(media_id, str) or not MEDIA_ID.match(media_id):
        return None
    if kind == "audio" and body.get("voice") is True:
        kind = "voice"
    mime = _text(body.get("mime_type"), 100)
    return {
        "type": kind,
        "file_id": media_id,
        "caption": _text(body.get("caption"), MAX_CAPTION_CHARS),
        "mime_type": mime.split(";")[0].strip() if mime else None,
        "file_name": _text(body.get("filename"), MAX_NAME_CHARS),
        "url": FILE_ROUTE.format(file_id=media_id),
    }


def _no_file(kind: str, caption: str | None = None) -> dict[str, Any]:
    return {"type": kind, "file_id": None, "caption": caption, "mime_type": None, "file_name": None}


def words_of(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(text, attachments) of one message, or None when it is no message for the bot (a reaction)."""
    kind = message.get("type")
    if not isinstance(kind, str) or kind in SKIPPED_KINDS:
        return None
    body = message.get(kind)
    if kind == "text":
        text = _text(body.get("body"), 1_000_000) if isinstance(body, dict) else None
        return (text, []) if text is not None else None
    if kind == "interactive" and isinstance(body, dict):
        if body.get("type") in ("button_reply", "list_reply"):
            reply = body.get(str(body["type"]))
            if not isinstance(reply, dict):
                return None
            chosen = _text(reply.get("id"), MAX_BUTTON_ID_CHARS) or _text(reply.get("title"), 100)
            return (chosen, []) if chosen else None
        return "", [_no_file("interactive")]  # a flow's answer, say: kept for the operator
    if kind == "button" and isinstance(body, dict):  # a template's quick-reply button
        chosen = _text(body.get("payload"), MAX_BUTTON_ID_CHARS) or _text(body.get("text"), 100)
        return (chosen, []) if chosen else None
    if kind in FILE_KINDS:
        attachment = attachment_of(kind, body)
        if attachment is None:
            return None
        return attachment["caption"] or "", [attachment]
    if kind == "location" and isinstance(body, dict):
        place = " — ".join(str(body[key])[:200] for key in ("name", "address") if body.get(key))
        return "", [_no_file("location", place or None)]
    if kind == "contacts":
        return "", [_no_file("contact")]
    return "", [_no_file(kind[:32])]  # unsupported, order, ...: kept, the bot says it reads text


def to_inbound(message: dict[str, Any], names: dict[str, str] | None = None) -> InboundMessage | None:
    """The customer's message, or None when there is nothing to keep or it is malformed."""
    sender, message_id = message.get("from"), message.get("id")
    if not isinstance(sender, str) or not WA_ID.match(sender):
        return None
    if not isinstance(message_id, str) or not message_id or len(message_id) > MAX_ID_CHARS:
        return None
    said = words_of(message)
    if said is None:
        return None
    text, attachments = said
    if not text.strip() and not attachments:
        return None
    name = (names or {}).get(sender)
    return InboundMessage(
        channel=CHANNEL,
        sender_id=sender,
        text=text,
        message_id=message_id,
        attachments=tuple(attachments),
        profile={"name": name} if name else None,
    )


def to_status(status: dict[str, Any]) -> StatusUpdate | None:
    """A status callback, or None when malformed."""
    message_id, state, recipient = status.get("id"), status.get("status"), status.get("recipient_id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > MAX_ID_CHARS:
        return None
    if not isinstance(state, str) or not re.match(r"^[a-z_]{1,20}$", state):
        return None
    if not isinstance(recipient, str) or not WA_ID.match(recipient):
        return None
    code, title = None, None
    errors = _dicts(status.get("errors"))
    if errors:
        raw = errors[0].get("code")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        title = _text(errors[0].get("title"), 200)
    return StatusUpdate(message_id, state, recipient, code, title)
