"""Typo correction against the training vocabulary (SymSpell), before lemmatisation.

Character n-grams absorb a typo only partly: "даставка" shares most n-grams with
"доставка" but its lemma is a word no intent has seen, so a misspelt content word
weighed less than the word it is. The tokenizer therefore replaces a word that the
training data never had, and that is not a known dictionary word either (pymorphy3
for Russian), by the closest training word: at most one edit for words of up to
``long_word`` letters, two for longer ones, ties broken by how often the training data
uses each word. Short words (``min_length``) and words with digits stay as they are.

symspellpy finds the candidates by precomputed deletions, fast enough for the parse
budget (docs/benchmarks.md); a word's correction is remembered per model, as chats
repeat their words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

WORDS_REMEMBERED = 50_000
ENGLISH_DICTIONARY = "frequency_dictionary_en_82_765.txt"


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """82,765 English words from symspellpy's own data: a word in it is no typo.

    Without it, "quantum" in an off-topic question became an intent's word (CLINC150:
    3.6 points less out-of-scope recall)."""
    from importlib import resources

    text = resources.files("symspellpy").joinpath(ENGLISH_DICTIONARY).read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


class Speller:
    """Maps an out-of-vocabulary word to its closest training word, or leaves it alone."""

    def __init__(
        self,
        counts: dict[str, int],
        is_known_word: Callable[[str], bool],
        min_length: int = 4,
        long_word: int = 7,
    ) -> None:
        from symspellpy import SymSpell

        self.counts = counts
        self._is_known_word = is_known_word
        self.min_length = min_length
        self.long_word = long_word
        self._symspell: Any = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in counts.items():
            self._symspell.create_dictionary_entry(word, count)
        self.correct: Callable[[str], str] = lru_cache(maxsize=WORDS_REMEMBERED)(self._correct)

    @classmethod
    def from_words(
        cls, words: Iterable[str], is_known_word: Callable[[str], bool], **options: int
    ) -> Speller:
        counts = Counter(w for w in words if w.isalpha())
        return cls(dict(counts), is_known_word, **options)

    def _correct(self, word: str) -> str:
        if len(word) < self.min_length or word in self.counts or not word.isalpha():
            return word
        if self._is_known_word(word):  # a real word the bot never saw: no typo to fix
            return word
        from symspellpy import Verbosity

        distance = 1 if len(word) <= self.long_word else 2
        found = self._symspell.lookup(word, Verbosity.TOP, max_edit_distance=distance)
        return str(found[0].term) if found else word
