"""One fetched mail as botdesk reads it: who wrote, in which thread, the new text, the files.

The standard library's ``email`` package parses (``policy.default``: RFC 2047 words in
headers, charsets, MIME); nothing here raises on a malformed message: what cannot be
read is left empty, and ``ParsedMail.problem`` says why when nothing is usable. The text
the NLU reads is the plain-text part (else the HTML part as text), with the quoted
history and the signature taken away (``quotes.strip_reply``); when that leaves nothing
(a question only in the subject), the subject is the text.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses

from bot.channels.email.html_text import html_to_text
from bot.channels.email.quotes import strip_reply
from bot.channels.email.threads import (
    MAX_SUBJECT_CHARS,
    base_subject,
    header_key,
    key_without_id,
    message_ids,
    thread_keys,
)

MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit
MAX_NAME_CHARS = 200
MAX_ATTACHMENTS = 20
TRUNCATED = " […]"


@dataclass(frozen=True)
class Attachment:
    """A file the customer sent: its name and type as the mail says, its bytes if within the limit."""

    file_name: str | None
    mime_type: str
    size: int
    data: bytes | None  # None: over the size limit, not kept


@dataclass
class ParsedMail:
    """What botdesk needs of one mail.

    ``key`` is the stored id of the message (its Message-ID, hashed when longer than a
    stored id may be, or a hash of the bytes when it has none); ``message_id`` the
    identifier to answer to (None without one); ``thread`` the stored keys of the
    messages it answers, parent first; ``references`` its References header's identifiers.
    """

    message: EmailMessage
    key: str
    message_id: str | None
    thread: list[str]
    references: list[str]
    sender: str | None
    sender_name: str | None
    subject: str
    text: str
    attachments: list[Attachment] = field(default_factory=list)
    dropped_attachments: int = 0
    truncated: bool = False

    @property
    def raw_subject(self) -> str:
        return str(self.message.get("Subject", "") or "")


def parse_mail(raw: bytes, *, max_text_chars: int, max_attachment_bytes: int) -> ParsedMail:
    """Read one mail (its whole RFC 5322 bytes); never raises on malformed input.

    Args:
        raw: the message as the server gave it.
        max_text_chars: the longest text handed on (longer is cut, with "[…]").
        max_attachment_bytes: files larger than this are listed without their bytes.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    ids = message_ids(_header(message, "Message-ID"))
    message_id = ids[0] if ids else None
    key = header_key(message_id) if message_id else key_without_id(raw)
    sender, name = _sender(message)
    subject = base_subject(_header(message, "Subject"))[:MAX_SUBJECT_CHARS]
    body = strip_reply(_body_text(message))
    text = body or subject
    truncated = len(text) > max_text_chars
    if truncated:
        text = text[: max_text_chars - len(TRUNCATED)].rstrip() + TRUNCATED
    attachments, dropped = _attachments(message, max_attachment_bytes)
    return ParsedMail(
        message=message,
        key=key,
        message_id=message_id,
        thread=thread_keys(_header(message, "In-Reply-To"), _header(message, "References")),
        references=message_ids(_header(message, "References")),
        sender=sender,
        sender_name=name,
        subject=subject,
        text=text,
        attachments=attachments,
        dropped_attachments=dropped,
        truncated=truncated,
    )


def parse_headers(raw: bytes) -> EmailMessage:
    """Only the header of a mail (what is fetched of one over the size limit)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def sender_of(message: Message) -> tuple[str | None, str | None]:
    """The From address (lower case) and display name, or (None, None) when it cannot be read."""
    return _sender(message)


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):  # a header the parser could not make sense of
        return None
    return None if value is None else str(value)


def _sender(message: Message) -> tuple[str | None, str | None]:
    try:
        header = message.get("From")
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        if addresses:
            address, name = addresses[0].addr_spec, addresses[0].display_name
        else:  # not parsed by the policy: the older parser's reading
            pairs = getaddresses([str(header or "")])
            name, address = pairs[0] if pairs else ("", "")
    except (ValueError, TypeError, IndexError, AttributeError):
        return None, None
    address = (address or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or len(address) > MAX_ADDRESS_CHARS:
        return None, None
    if any(ch.isspace() or ch in "<>\"'\x00" for ch in address):
        return None, None
    shown = " ".join((name or "").split())[:MAX_NAME_CHARS]
    return address, shown or None


def _body_text(message: EmailMessage) -> str:
    """The plain-text body, else the HTML body as text, else nothing."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, ValueError, TypeError, AttributeError):
        return ""
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    return text


def _decoded(part: Message) -> str:
    """A text part's content; an unknown or lying charset is read as UTF-8 with replacements."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, TypeError, AttributeError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode("utf-8", errors="replace")


def _attachments(message: EmailMessage, max_bytes: int) -> tuple[list[Attachment], int]:
    """The files of the mail (at most ``MAX_ATTACHMENTS``) and how many more were left out."""
    found: list[Attachment] = []
    dropped = 0
    try:
        parts = list(message.iter_attachments())
    except (KeyError, ValueError, TypeError, AttributeError):
        return [], 0
    for part in parts:
        if len(found) >= MAX_ATTACHMENTS:
            dropped += 1
            continue
        if part.is_multipart():  # an attached message/rfc822 is a file for the operator too
            payload = part.as_bytes()
        else:
            decoded = part.get_payload(decode=True)
            payload = decoded if isinstance(decoded, bytes) else b""
        try:
            given = part.get_filename()
        except (ValueError, TypeError, AttributeError):
            given = None
        file_name = " ".join(given.split())[:255] if given else None
        keep = len(payload) <= max_bytes
        found.append(
            Attachment(
                file_name=file_name or None,
                mime_type=part.get_content_type(),
                size=len(payload),
                data=payload if keep else None,
            )
        )
    return found, dropped
