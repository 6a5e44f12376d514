"""Quick phrases: what makes a usable shortcut and text (the panel's admin screen and its API check here).

A shortcut is ``/`` and one word (letters of any script, digits, ``_``, ``-``, ``.``),
compared in lower case: ``/Hi`` and ``/hi`` are one shortcut. A text is what the operator
sends, at most ``MAX_PHRASE_CHARS`` characters, without control characters other than line
breaks; ``{operator}`` in it becomes the operator's display name.
"""

from __future__ import annotations

import re
import unicodedata

from bot.errors import BotdeskError
from bot.i18n.text import Text

MAX_SHORTCUT_CHARS = 32
MAX_PHRASE_CHARS = 1000
MAX_PHRASES = 200
SHORTCUT = re.compile(r"^/[\w.-]{1,31}$")


class PhraseError(BotdeskError):
    """A quick phrase that cannot be stored; ``text`` says why (the panel translates it)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def check_phrase(shortcut: str, text: str) -> tuple[str, str]:
    """The shortcut in its one form and the text, or ``PhraseError``."""
    normal = unicodedata.normalize("NFKC", shortcut).strip().lower()
    if not SHORTCUT.fullmatch(normal):
        raise PhraseError(
            Text(
                "a shortcut is / and one word of letters, digits, _ - or . "
                "(at most {n} characters), e.g. /hi",
                n=MAX_SHORTCUT_CHARS,
            )
        )
    body = text.strip()
    if not body:
        raise PhraseError(Text("the phrase is empty"))
    if len(body) > MAX_PHRASE_CHARS:
        raise PhraseError(Text("the phrase is too long: at most {n} characters", n=MAX_PHRASE_CHARS))
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in body):
        raise PhraseError(Text("the phrase has control characters; write plain text"))
    return normal, body
