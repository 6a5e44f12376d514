"""SpacyTokenizer: spaCy's rule-based tokenizer (blank pipeline, no model download).

Each token gets a ``norm`` (lower-cased, squeezed, layout/transliteration fixed for
Russian) and a ``lemma`` (pymorphy3 for Russian, the norm otherwise).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bot.nlu.base import Component, ComponentOptions, Message, PipelineContext, Token
from bot.nlu.normalize import (
    fix_keyboard_layout,
    is_latin,
    is_russian_word,
    lemmatize,
    squeeze,
    transliterate_to_russian,
)
from bot.nlu.registry import register_component
from bot.nlu.spacy_import import import_spacy

MAX_PARSE_CHARS = 4000


class SpacyTokenizerOptions(ComponentOptions):
    fix_layout: bool = True
    transliteration: bool = True
    lemmas: bool = True  # pymorphy3 lemmas for Russian, Snowball stems for other languages


@lru_cache(maxsize=4)
def blank_pipeline(language: str) -> Any:
    spacy = import_spacy()

    return spacy.blank(language)


@register_component
class SpacyTokenizer(Component):
    name = "SpacyTokenizer"
    Options = SpacyTokenizerOptions
    options: SpacyTokenizerOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        self._nlp = blank_pipeline(context.language)
        self._russian = context.language == "ru"

    def process(self, message: Message) -> None:
        # A lone surrogate (broken UTF-16 from a client) would stop spaCy: one "?" each, offsets kept.
        text = message.text[:MAX_PARSE_CHARS].encode("utf-8", "replace").decode("utf-8")
        if self._russian and self.options.fix_layout:
            text = fix_keyboard_layout(text)
        doc = self._nlp.make_doc(text)
        words = [t for t in doc if any(ch.isalnum() for ch in t.text)]
        mostly_latin = self._russian and sum(map(is_latin, (t.text for t in words))) * 2 > len(words)
        o = self.options
        transliterate = self._russian and o.transliteration
        language = self.context.language
        tokens = []
        for t in words:
            norm, lemma = _norm_and_lemma(t.text, language, transliterate, mostly_latin, o.lemmas)
            tokens.append(Token(t.text, t.idx, t.idx + len(t.text), norm, lemma))
        message.tokens = tokens
        message.normalized = " ".join(t.norm for t in tokens)


@lru_cache(maxsize=50_000)
def _norm_and_lemma(
    word: str, language: str, transliterate: bool, mostly_latin: bool, lemmas: bool
) -> tuple[str, str]:
    """A word's norm and lemma, worked out once per process: chats repeat their words."""
    norm = squeeze(word)
    if transliterate and is_latin(norm):
        converted = transliterate_to_russian(norm)
        if mostly_latin or is_russian_word(converted):
            norm = converted
    return norm, lemmatize(norm, language) if lemmas else norm
