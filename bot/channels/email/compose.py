"""botdesk's messages as a mail: labelled text, in the customer's thread, marked automatic when the bot's.

One turn's replies go out as one mail (a customer asked once; three mails for one
question would read as spam), each reply labelled with who says it (the bot's label or
the operator's name, ``OutboundMessage.labelled``), response buttons as a list of
answers to type back. The mail answers the customer's latest mail (``In-Reply-To``,
``References``, "Re: <subject>"), so it lands in the same thread in their client.

What the bot and the system say carries ``Auto-Submitted: auto-replied`` (RFC 3834): other
robots (vacation responders, ticket systems) then do not answer it, which stops reply
loops at their end too; ``X-Auto-Response-Suppress`` asks Exchange the same. An
operator's reply is a person's mail and carries neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from bot.channels.email.threads import references_header, reply_subject
from bot.messages import OutboundMessage

ANSWER_WITH = {"ru": "Ответьте одним из вариантов:", "en": "Reply with one of:"}


@dataclass(frozen=True)
class Thread:
    """Where a mail goes in the customer's thread: the mail it answers, the chain, the subject."""

    in_reply_to: str | None
    references: list[str]
    subject: str | None


def body_of(messages: Sequence[OutboundMessage], language: str) -> str:
    """The mail's text: each message labelled, its buttons listed as answers to type."""
    parts = []
    for message in messages:
        text = message.labelled()
        titles = [str(b.get("title") or "").strip() for b in message.buttons]
        titles = [title for title in titles if title]
        if titles:
            lead = ANSWER_WITH.get(language, ANSWER_WITH["en"])
            text += "\n\n" + lead + "\n" + "\n".join(f"  • {title}" for title in titles)
        if message.image:
            text += f"\n\n{message.image}"
        parts.append(text)
    return "\n\n".join(parts) + "\n"


def compose(
    messages: Sequence[OutboundMessage],
    *,
    to: str,
    sender: str,
    sender_name: str,
    thread: Thread,
    message_id: str,
    default_subject: str,
    language: str,
    now: datetime,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """The mail for ``messages`` (one turn's replies, or one later message) to one customer.

    Args:
        messages: what to say, in order; all of one sender kind (bot/system, or an operator).
        to: the customer's address.
        sender: our address; ``sender_name`` its display name.
        thread: the customer's mail this answers (``Thread``).
        message_id: this mail's own Message-ID, without angle brackets.
        default_subject: the subject when the thread has none.
        language: the bot's language, for the line before response buttons.
        now: the Date header.
        attachments: files to attach, as (name, media type, bytes).
    """
    mail = EmailMessage()
    mail["From"] = formataddr((sender_name, sender))
    mail["To"] = to
    mail["Subject"] = reply_subject(thread.subject, default_subject)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = f"<{message_id}>"
    if thread.in_reply_to:
        mail["In-Reply-To"] = f"<{thread.in_reply_to}>"
    chain = list(thread.references)
    if thread.in_reply_to and (not chain or chain[-1] != thread.in_reply_to):
        chain = [item for item in chain if item != thread.in_reply_to] + [thread.in_reply_to]
    if chain:
        mail["References"] = references_header(chain)
    if all(message.sender != "operator" for message in messages):
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(body_of(messages, language), charset="utf-8", cte="quoted-printable")
    for name, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    return mail
