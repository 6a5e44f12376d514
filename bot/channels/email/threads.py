"""Mail threads by their headers: Message-ID, In-Reply-To, References and the "Re:" subject.

A mail client threads a conversation by Message-IDs (RFC 5322 section 3.6.4): every
message has its own ``Message-ID``; a reply names its parent in ``In-Reply-To`` and the
whole chain in ``References``. botdesk keeps one conversation per thread: an incoming
message whose In-Reply-To or References names a message of a customer's conversation
belongs to that conversation, and every message botdesk sends names the customer's latest
message the same way, under the thread's subject with one "Re: " in front.

Only the identifiers are handled here (pure functions); which conversation holds which
identifier is the store's (``bot.store.email_threads``).
"""

from __future__ import annotations

import hashlib
import re
import uuid

MAX_KEY_CHARS = 255  # a stored channel message id (``messages.channel_message_id``)
MAX_IDS = 50  # identifiers read from one header: References can be long, the recent ones matter
MAX_REFERENCES = 20  # identifiers written into our References: the first and the latest
MAX_SUBJECT_CHARS = 200

_BRACKETED = re.compile(r"<([^<>\s]{1,998})>")
_BARE = re.compile(r"^[^<>\s@]{1,900}@[^<>\s@]{1,900}$")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|sv|antw|odp|ответ|отв|re\[\d+\]|re\(\d+\)|на|пересл)\s*:\s*)+",
    re.IGNORECASE,
)
_OUR_ID = re.compile(r"^botdesk\.[0-9a-f]{32}@")


def message_ids(value: str | None) -> list[str]:
    """The message identifiers in a Message-ID, In-Reply-To or References header, in order.

    Each is returned without its angle brackets. Some clients write an identifier bare
    (``abc@host``); a value with neither form gives nothing.

    >>> message_ids("<a@x> <b@y>")
    ['a@x', 'b@y']
    """
    if not value:
        return []
    found = _BRACKETED.findall(value)
    if not found:
        found = [token for token in value.split() if _BARE.match(token)]
    unique: list[str] = []
    for item in found[-MAX_IDS:]:
        if item not in unique:
            unique.append(item)
    return unique


def header_key(message_id: str) -> str:
    """How an identifier is stored (``messages.channel_message_id``): as it is, or hashed if too long."""
    if len(message_id) <= MAX_KEY_CHARS:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def key_without_id(raw: bytes) -> str:
    """A stable key for a message that came without a Message-ID: the same bytes, the same key."""
    return "botdesk-noid:" + hashlib.sha256(raw).hexdigest()


def thread_keys(in_reply_to: str | None, references: str | None) -> list[str]:
    """The stored keys of the messages a new message answers, its parent first, then back in time."""
    keys: list[str] = []
    for item in [*message_ids(in_reply_to), *reversed(message_ids(references))]:
        key = header_key(item)
        if key not in keys:
            keys.append(key)
    return keys


def new_message_id(domain: str) -> str:
    """A fresh identifier for a message botdesk sends, on the shop's mail domain."""
    return f"botdesk.{uuid.uuid4().hex}@{domain}"


def looks_like_ours(message_id: str, domain: str) -> bool:
    """Is this an identifier ``new_message_id`` made for ``domain`` (our own mail come back)?"""
    return bool(_OUR_ID.match(message_id)) and message_id.lower().endswith("@" + domain.lower())


def bracketed(ids: list[str]) -> str:
    """Identifiers as a header value: ``<a@x> <b@y>``."""
    return " ".join(f"<{item}>" for item in ids)


def references_header(chain: list[str]) -> str:
    """Our References: the thread's first message and the latest ones, at most ``MAX_REFERENCES``.

    RFC 5322 lets a long chain be shortened; keeping the root lets clients that thread by
    the first identifier still find the thread.
    """
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return bracketed(chain)


def base_subject(subject: str | None) -> str:
    """The subject without reply and forward prefixes (Re:, Fwd:, Ответ:, RE[2]: ...)."""
    text = " ".join((subject or "").split())
    return _REPLY_PREFIX.sub("", text).strip()[:MAX_SUBJECT_CHARS]


def reply_subject(subject: str | None, default: str) -> str:
    """``Re: <the thread's subject>``, one prefix however long the thread; ``default`` without one."""
    base = base_subject(subject)
    return f"Re: {base}" if base else default
