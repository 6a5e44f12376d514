"""Messenger reality: how people really type, turned into what the model learned from.

- a message typed with the wrong keyboard layout ("ghbdtn" = "привет"),
- Russian written in Latin letters ("skolko stoit dostavka"),
- stretched letters ("спасибоооо"), "ё"/"е", capitals.

Layout fixing maps character for character, so entity offsets in the original text
stay valid. Decisions use the pymorphy3 dictionary: a rewrite is kept only when it
turns the message into known Russian words.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_EN_KEYS = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`QWERTYUIOP{}ASDFGHJKL:\"ZXCVBNM<>~"
_RU_KEYS = "йцукенгшщзхъфывапролджэячсмитьбюёЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮЁ"
LAYOUT_EN_TO_RU = str.maketrans(_EN_KEYS, _RU_KEYS)

_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LAYOUT_CHUNK = re.compile(r"[A-Za-z\[\];',.`{}:\"<>~]+")
_TRAILING_PUNCT = re.compile(r"[,.:;\"']+$")
STEMMER_LANGUAGES = {"en": "english", "ru": "russian", "de": "german", "fr": "french", "es": "spanish"}
_ONE_LETTER_WORDS = frozenset("вксуаоияВКСУАОИЯ")
_STRETCH = re.compile(r"(\w)\1{2,}")

# Longest first: multi-letter combinations win over single letters.
_TRANSLIT = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("yo", "ё"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ju", "ю"),
    ("ja", "я"),
    ("ye", "е"),
    ("iy", "ий"),
    ("yi", "ый"),
    ("ay", "ай"),
    ("oy", "ой"),
    ("ey", "ей"),
    ("uy", "уй"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "ц"),
    ("w", "в"),
    ("x", "кс"),
    ("q", "к"),
    ("y", "ы"),
    ("'", "ь"),
]
_TRANSLIT_RE = re.compile("|".join(re.escape(src) for src, _ in _TRANSLIT))
_TRANSLIT_MAP = dict(_TRANSLIT)


@lru_cache(maxsize=1)
def morph() -> Any:
    """The pymorphy3 analyser, loaded once per process (about 15 MB of dictionaries)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=200_000)
def russian_lemma(word: str) -> str:
    if not _CYRILLIC.search(word):
        return word
    try:
        return str(morph().parse(word)[0].normal_form).replace("ё", "е")
    except ValueError:  # pymorphy3 asks unicodedata for names that newer code points lack
        return word


@lru_cache(maxsize=100_000)
def is_russian_word(word: str) -> bool:
    return len(word) > 1 and bool(morph().word_is_known(word.lower()))


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Any:
    import Stemmer

    name = STEMMER_LANGUAGES.get(language)
    return Stemmer.Stemmer(name) if name else None


@lru_cache(maxsize=200_000)
def stem(language: str, word: str) -> str:
    """Snowball stem ("refunded" -> "refund"); the word itself where no stemmer exists."""
    stemmer = _stemmer(language)
    return str(stemmer.stemWord(word)) if stemmer is not None else word


def lemmatize(norm: str, language: str) -> str:
    """The one definition of a word's lemma: pymorphy3 for Russian, a Snowball stem otherwise."""
    return russian_lemma(norm) if language == "ru" else stem(language, norm)


def fix_keyboard_layout(text: str) -> str:
    """Rewrite Latin chunks typed on a Russian keyboard; keeps every character's offset.

    Chunks are rewritten only if most Latin words of the message become known Russian
    words, so English words in a Russian chat stay as they are. One-letter chunks
    ("d" = "в") follow the decision of the message.
    """
    if not _LATIN.search(text):
        return text
    chunks = [m for m in _LAYOUT_CHUNK.finditer(text) if _LATIN.search(m.group())]
    words = [m for m in chunks if len(m.group()) > 1]
    rewrites: list[tuple[int, int, str]] = []
    for match in words:
        candidate = _layout_candidate(match.group())
        if candidate is not None:
            rewrites.append((match.start(), match.end(), candidate))
    if not rewrites or len(rewrites) * 2 < len(words):
        return text
    for match in chunks:
        mapped = match.group().translate(LAYOUT_EN_TO_RU)
        if len(match.group()) == 1 and mapped in _ONE_LETTER_WORDS:
            rewrites.append((match.start(), match.end(), mapped))
    out = list(text)
    for start, end, candidate in rewrites:
        out[start:end] = candidate
    return "".join(out)


def _layout_candidate(chunk: str) -> str | None:
    whole = chunk.translate(LAYOUT_EN_TO_RU)
    if is_russian_word(whole):
        return whole
    trailing = _TRAILING_PUNCT.search(chunk)
    if trailing:
        core = chunk[: trailing.start()]
        mapped = core.translate(LAYOUT_EN_TO_RU)
        if core and is_russian_word(mapped):
            return mapped + trailing.group()
    return None


def transliterate_to_russian(word: str) -> str:
    """ "dostavka" -> "доставка"; rough on purpose: character n-grams absorb the rest."""
    return _TRANSLIT_RE.sub(lambda m: _TRANSLIT_MAP[m.group()], word.lower())


def squeeze(word: str) -> str:
    """Lower-case, "ё" as "е", and "спасибоооо" -> "спасибо"."""
    return _STRETCH.sub(r"\1", word.lower().replace("ё", "е"))


def is_latin(word: str) -> bool:
    return bool(_LATIN.search(word)) and not _CYRILLIC.search(word)
