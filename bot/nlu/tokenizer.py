"""SpacyTokenizer: spaCy's rule-based tokenizer (blank pipeline, no model download).

Each token gets a ``norm`` (lower-cased, squeezed, layout/transliteration fixed for
Russian, a typo corrected against the training vocabulary) and a ``lemma`` (pymorphy3
for Russian, a Snowball stem otherwise).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from bot.nlu.base import Component, ComponentOptions, Message, PipelineContext, Token
from bot.nlu.data import TrainingData
from bot.nlu.normalize import (
    fix_keyboard_layout,
    is_latin,
    is_russian_word,
    lemmatize,
    squeeze,
    transliterate_to_russian,
)
from bot.nlu.persist import read_json, write_json
from bot.nlu.registry import register_component
from bot.nlu.spacy_import import import_spacy
from bot.nlu.spelling import Speller, english_words

MAX_PARSE_CHARS = 4000
SPELLED = frozenset({"ru", "en"})


class SpacyTokenizerOptions(ComponentOptions):
    fix_layout: bool = True
    transliteration: bool = True
    lemmas: bool = True  # pymorphy3 lemmas for Russian, Snowball stems for other languages
    typo_correction: bool = True
    """Replace words the training data never had by the closest one it had (bot/nlu/spelling.py)."""
    typo_min_length: int = Field(default=4, ge=2)


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
        self._speller: Speller | None = None

    def _known_word(self, word: str) -> bool:
        if self._russian:
            return is_russian_word(word)
        return self.context.language == "en" and word in english_words()

    def _make_speller(self, counts: dict[str, int]) -> Speller | None:
        # Only where a dictionary tells real words from typos (ru: pymorphy3, en: symspellpy's).
        if not self.options.typo_correction or not counts or self.context.language not in SPELLED:
            return None
        return Speller(counts, self._known_word, min_length=self.options.typo_min_length)

    def train(self, messages: list[Message], data: TrainingData) -> None:
        self._speller = None
        self.process_batch(messages)  # the training words as typed: the vocabulary to correct to
        words: dict[str, int] = {}
        for message in messages:
            for token in message.tokens:
                if token.norm.isalpha():
                    words[token.norm] = words.get(token.norm, 0) + 1
        self._speller = self._make_speller(words)

    def persist(self, directory: Path) -> None:
        write_json(directory / "vocabulary.json", self._speller.counts if self._speller else {})

    def load(self, directory: Path) -> None:
        path = directory / "vocabulary.json"
        counts = {str(k): int(v) for k, v in read_json(path).items()} if path.is_file() else {}
        self._speller = self._make_speller(counts)

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
        speller = self._speller
        for t in words:
            norm, lemma = _norm_and_lemma(t.text, language, transliterate, mostly_latin, o.lemmas)
            if speller is not None:
                corrected = speller.correct(norm)
                if corrected != norm:
                    norm, lemma = corrected, lemmatize(corrected, language) if o.lemmas else corrected
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
