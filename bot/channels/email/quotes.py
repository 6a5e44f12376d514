"""What the customer wrote this time: quoted history, reply headers and signatures taken away.

A reply carries the whole thread below it ("On Mon, ... Ivan wrote:", "> " lines, an
Outlook header block) and a signature; the NLU must read only the new words, or every
reply looks like the first question again. The maintained libraries on PyPI
(``mail-parser-reply``, ``email_reply_parser``) know no Russian clients, and the first
treats any "- " line as a signature (a customer's list of items), so botdesk has its own
rules, each tested with the clients' real formats:

- a reply header ends what is new: "On ... wrote:", "... пишет:" / "написал(а):", the
  Russian Gmail and Yandex "<date>, Имя <addr>:" lines, Mail.ru's "... от Имя <addr>:",
  "-----Original Message-----" / "Исходное сообщение" lines, Outlook's underscore line
  and its "From:/Sent:/To:" ("От:/Отправлено:/Кому:") block;
- "> " lines are quotes, wherever they are (inline answers keep the lines between them);
- a signature starts at the "-- " line (RFC 3676), at a "Sent from my iPhone" /
  "Отправлено из ..." line, or at a closing ("С уважением," "Best regards,") near the end.

Forwarded messages ("---------- Forwarded message ---------") are kept: they are what
the customer wants us to read.
"""

from __future__ import annotations

import re

MAX_INPUT_CHARS = 200_000  # a body longer than this is cut before the rules look at it
_SIGNATURE_TAIL_LINES = 6  # a closing line this near the end starts the signature

_WROTE = re.compile(
    r"(?:\b(?:wrote|writes|schrieb|a écrit|escribió|пишет|написал|написала|написал\(а\)|"
    r"написали|пишут)\s*:\s*$)",
    re.IGNORECASE,
)
_ADDRESS_COLON = re.compile(r"<[^<>\s@]+@[^<>\s@]+>\s*:\s*$")
_MAILRU_FROM = re.compile(r"\bот\s+.+<[^<>\s@]+@[^<>\s@]+>\s*:?\s*$", re.IGNORECASE)
_ON_START = re.compile(r"^\s*(?:on|am|le|el)\s+\S", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:original message|исходное сообщение|reply message|ответное сообщение)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_FORWARDED = re.compile(
    r"^\s*-*\s*(?:forwarded message|пересылаемое сообщение|переадресованное сообщение|"
    r"начало переадресованного сообщения|begin forwarded message)\s*:?\s*-*\s*$",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^\s*\*?(?:from|sent|to|subject|date|cc|от|отправлено|кому|тема|дата|копия)\*?\s*:",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(r"^\s*\*?(?:from|от)\*?\s*:", re.IGNORECASE)
_SENT_FROM = re.compile(
    r"^\s*(?:sent from my |sent from mail for |sent from outlook|get outlook for |sent via |"
    r"отправлено (?:с|из|со) |отправлено через |скачайте outlook|получить outlook)",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:с уважением|с наилучшими пожеланиями|всего (?:доброго|хорошего)|best regards|kind regards|"
    r"regards|best wishes|cheers|sincerely|yours sincerely|yours truly|mit freundlichen grüßen)"
    r"\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")


def strip_reply(text: str) -> str:
    """The new part of a mail body: without the quoted thread, the reply header and the signature.

    >>> strip_reply("Спасибо, жду.\\n\\n5 дек. 2026 г., в 10:00, Магазин <shop@x.ru>:\\n> Здравствуйте!")
    'Спасибо, жду.'
    """
    lines = text[:MAX_INPUT_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = lines[: _history_start(lines)]
    lines = [line for line in lines if not _QUOTED.match(line)]
    lines = lines[: _signature_start(lines)]
    return _tidy(lines)


def _history_start(lines: list[str]) -> int:
    """Where the quoted history starts (a reply header or separator), or the end."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _QUOTED.match(line):
            continue
        if _FORWARDED.match(line):
            return len(lines)  # what follows is the forwarded mail: the customer wants it read
        if _SEPARATOR.match(line) or (_UNDERSCORES.match(line) and _header_block_follows(lines, index + 1)):
            return index
        if _FROM_FIELD.match(line) and _header_block_follows(lines, index):
            return index
        if _is_reply_header(lines, index):
            if len(stripped) < 20 and index > 0 and lines[index - 1].strip():
                return index - 1  # "wrote:" alone: the header was wrapped, its first half is above
            return index
    return len(lines)


def _is_reply_header(lines: list[str], index: int) -> bool:
    """An attribution line ("On ... wrote:", "..., Иван <ivan@x.ru>:"), on one line or wrapped onto two."""
    line = lines[index].strip()
    joined = line
    if not _ends_like_header(line) and index + 1 < len(lines):
        following = lines[index + 1].strip()  # a header wrapped onto the very next line
        if following and not _ends_like_header(following) and _ends_like_header(f"{line} {following}"):
            joined = f"{line} {following}"
    if len(joined) > 300:
        return False
    if _WROTE.search(joined):
        # "Иван пишет:" alone is a header; a sentence that ends with "wrote:" needs a date or "On".
        return bool(
            _ON_START.match(joined)
            or re.search(r"\d", joined)
            or "@" in joined
            or _quote_follows(lines, index)
        )
    if _ADDRESS_COLON.search(joined) or _MAILRU_FROM.search(joined):
        return bool(re.search(r"\d", joined) or _quote_follows(lines, index))
    return False


def _ends_like_header(text: str) -> bool:
    return bool(_WROTE.search(text) or _ADDRESS_COLON.search(text) or _MAILRU_FROM.search(text))


def _header_block_follows(lines: list[str], index: int) -> bool:
    """Two or more header fields from ``index`` on (From:/Sent:/To: or От:/Отправлено:/Кому:)."""
    fields = 0
    for line in lines[index : index + 8]:
        if not line.strip():
            if fields:
                break
            continue
        if _HEADER_FIELD.match(line):
            fields += 1
        elif fields == 0:
            return False
    return fields >= 2


def _quote_follows(lines: list[str], index: int) -> bool:
    following = _next_text(lines, index + 1)
    while following is not None and not _QUOTED.match(lines[following]):
        # the wrapped second half of the header itself does not count
        if following > index + 2:
            return False
        following = _next_text(lines, following + 1)
    return following is not None


def _next_text(lines: list[str], start: int) -> int | None:
    for index in range(start, min(len(lines), start + 3)):
        if lines[index].strip():
            return index
    return None


def _signature_start(lines: list[str]) -> int:
    """Where the signature starts, or the end; never at the first line of text."""
    texts = [i for i, line in enumerate(lines) if line.strip()]
    if not texts:
        return len(lines)
    first = texts[0]
    for index, line in enumerate(lines):
        if index > first and line.rstrip() in {"--", "—"}:
            return index
    for index in texts:
        if index > first and _SENT_FROM.match(lines[index]):
            return index
    tail = texts[-_SIGNATURE_TAIL_LINES:]
    for index in tail:
        if index > first and _CLOSING.match(lines[index]):
            return index
    return len(lines)


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()
