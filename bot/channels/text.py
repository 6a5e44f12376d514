"""Message text as the messaging platforms count it: UTF-16 units, split at natural breaks.

Telegram, VK and WhatsApp all limit a message's length in UTF-16 code units (an emoji or
another character outside the Basic Multilingual Plane counts twice), so a reply longer
than the limit is sent as several messages, each cut where a reader expects a break.
Shared by the channels that need it; a channel never imports another channel.
"""

from __future__ import annotations


def utf16_len(text: str) -> int:
    """Length in UTF-16 units: emoji and other astral characters count twice."""
    return len(text.encode("utf-16-le")) // 2


def fit_utf16(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-16 units."""
    size = 0
    for index, char in enumerate(text):
        size += 2 if ord(char) > 0xFFFF else 1
        if size > limit:
            return text[:index]
    return text


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units, cut at a paragraph, a line or a space where there is one.

    Args:
        text: the message.
        limit: the platform's limit for one message (minus whatever each part is prefixed with).

    Returns:
        The parts in order, never empty (an empty text is one empty part); a word longer
        than a whole message is cut inside.

    Example::

        split_text("a " * 3000, 4096)  # two parts, cut between words
    """
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        head = fit_utf16(rest, limit) or rest[:1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = head.rfind(separator)
            if cut > 0:
                break
        if cut <= 0:  # one word longer than a message: cut it
            cut = len(head)
        part, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if part:
            parts.append(part)
    if rest.strip() or not parts:
        parts.append(rest)
    return parts
