"""How a featurizer cuts a document into terms: word n-grams, character n-grams, lemma pairs.

These are the analyzers scikit-learn's ``CountVectorizer`` builds for the same options
(lowercase off, no preprocessing: the tokenizer normalised the text already), written
out so that parsing a message needs neither scikit-learn nor scipy: importing them costs
`botdesk run` over a second at start-up. Training passes the same functions to
``CountVectorizer``, so the vocabulary and the parse always cut text the same way;
tests/nlu/test_analyzers.py checks them against scikit-learn's for models trained before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Analyzer = Callable[[str], list[str]]

_RUNS_OF_SPACE = re.compile(r"\s\s+")  # scikit-learn squeezes these before character n-grams


def word_ngrams(min_n: int, max_n: int) -> Analyzer:
    """Whitespace tokens and their ``min_n``..``max_n``-grams joined by a space; unigrams first."""

    def analyze(text: str) -> list[str]:
        words = text.split()
        grams = list(words) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n, len(words)) + 1):
            grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return grams

    return analyze


def char_wb_ngrams(min_n: int, max_n: int) -> Analyzer:
    """Character n-grams inside each word padded with a space; a word shorter than n counts once."""

    def analyze(text: str) -> list[str]:
        grams: list[str] = []
        for word in _RUNS_OF_SPACE.sub(" ", text).split():
            padded = f" {word} "
            for n in range(min_n, max_n + 1):
                if n >= len(padded):
                    grams.append(padded)  # the whole padded word, once, and no longer n-grams
                    break
                grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
        return grams

    return analyze


def char_ngrams(min_n: int, max_n: int) -> Analyzer:
    """Character n-grams across the whole text (runs of whitespace squeezed to one space)."""

    def analyze(text: str) -> list[str]:
        text = _RUNS_OF_SPACE.sub(" ", text)
        grams = list(text) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n, len(text)) + 1):
            grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
        return grams

    return analyze


def pairs(stop_words: frozenset[str]) -> Analyzer:
    """Unordered pairs of the message's content lemmas: "refund|card" whatever the word order."""

    def analyze(text: str) -> list[str]:
        words = [w for w in dict.fromkeys(text.split()) if w not in stop_words]
        return [f"{a}|{b}" if a < b else f"{b}|{a}" for i, a in enumerate(words) for b in words[i + 1 :]]

    return analyze
