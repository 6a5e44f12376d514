"""CountVectorsFeaturizer: TF-IDF weighted n-grams of words, lemmas or characters.

Several featurizers in one pipeline (say lemma 1–3-grams, character 2–4-grams and lemma pairs)
each add one sparse block; the classifier concatenates them. Character n-grams make
the bot robust to typos and missing letters. Training uses scikit-learn's vectorizer with
the analyzers of ``bot.nlu.analyzers``; parsing one message uses the same analyzers and
looks n-grams up directly, which is many times faster than going through scipy.sparse
for a single row, and needs neither scikit-learn nor scipy (imported only to train).
Character n-grams never cross a word, so a parse looks each word's up once per model and
remembers the ids (``WORDS_REMEMBERED`` words): chats repeat their words, and this was
the NLU's largest cost (tests/nlu/test_featurizers.py checks parse and training agree).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from bot.nlu import analyzers
from bot.nlu.base import Component, ComponentOptions, Message, PipelineContext, SparseFeatures
from bot.nlu.data import TrainingData
from bot.nlu.persist import read_array, read_json, write_array, write_json
from bot.nlu.registry import register_component
from bot.nlu.spacy_import import import_spacy

if TYPE_CHECKING:
    import scipy.sparse as sp


class CountVectorsOptions(ComponentOptions):
    analyzer: Literal["word", "char_wb", "char", "pairs"] = "word"
    use_lemma: bool = True
    min_ngram: int = 1
    max_ngram: int = 1
    min_df: int = 1
    max_features: int | None = None
    sublinear_tf: bool = True
    use_idf: bool = True
    weight: float = 1.0


WORDS_REMEMBERED = 50_000  # per char_wb featurizer: 9 MB when full of random 4-12 letter words


@lru_cache(maxsize=8)
def stop_words(language: str) -> frozenset[str]:
    spacy = import_spacy()

    return frozenset(spacy.blank(language).Defaults.stop_words)


@register_component
class CountVectorsFeaturizer(Component):
    name = "CountVectorsFeaturizer"
    Options = CountVectorsOptions
    options: CountVectorsOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        self._vocabulary: dict[str, int] = {}
        self._idf: NDArray[np.float64] = np.zeros(0)
        self._analyze: analyzers.Analyzer = str.split
        self._word_terms = self._terms_of_word  # memoised once the vocabulary is known

    def _document(self, message: Message) -> str:
        if self.options.analyzer in ("word", "pairs") and self.options.use_lemma:
            return " ".join(t.lemma for t in message.tokens)
        return message.normalized

    def _make_analyzer(self) -> analyzers.Analyzer:
        o = self.options
        if o.analyzer == "pairs":
            return analyzers.pairs(stop_words(self.context.language))
        if o.analyzer == "char_wb":
            return analyzers.char_wb_ngrams(o.min_ngram, o.max_ngram)
        if o.analyzer == "char":
            return analyzers.char_ngrams(o.min_ngram, o.max_ngram)
        return analyzers.word_ngrams(o.min_ngram, o.max_ngram)

    def train(self, messages: list[Message], data: TrainingData) -> None:
        from sklearn.feature_extraction.text import CountVectorizer  # slow to import: training only

        o = self.options
        self._analyze = self._make_analyzer()
        vectorizer = CountVectorizer(
            analyzer=self._analyze,
            lowercase=False,
            min_df=o.min_df,
            max_features=o.max_features,
            dtype=np.float64,
        )
        counts = vectorizer.fit_transform([self._document(m) for m in messages]).tocsr()
        self._vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        self._remember_words()
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self._idf = np.log((1 + counts.shape[0]) / (1 + df)) + 1.0
        counts.sort_indices()
        for row, message in enumerate(messages):
            lo, hi = counts.indptr[row], counts.indptr[row + 1]
            message.features.append(
                self._weigh(counts.indices[lo:hi].astype(np.int64), counts.data[lo:hi].copy())
            )

    def _weigh(self, indices: NDArray[np.int64], counts: NDArray[np.float64]) -> SparseFeatures:
        values = np.log(counts) + 1.0 if self.options.sublinear_tf else counts
        if self.options.use_idf:
            values = values * self._idf[indices]
        norm = float(np.sqrt(np.dot(values, values)))
        if norm > 0:
            values = values * (self.options.weight / norm)
        return SparseFeatures(indices, values, len(self._vocabulary))

    def _terms_of_word(self, word: str) -> tuple[int, ...]:
        """The vocabulary ids of one word's character n-grams (``char_wb`` never crosses words)."""
        return tuple(i for i in map(self._vocabulary.get, self._analyze(word)) if i is not None)

    def process(self, message: Message) -> None:
        document = self._document(message)
        counts: Counter[int | None]
        if self.options.analyzer == "char_wb":
            counts = Counter(chain.from_iterable(map(self._word_terms, document.split())))
        else:
            counts = Counter(map(self._vocabulary.get, self._analyze(document)))
            counts.pop(None, None)  # n-grams the training data never had
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        message.features.append(self._weigh(indices, values))

    def persist(self, directory: Path) -> None:
        write_json(directory / "vocabulary.json", self._vocabulary)
        write_array(directory / "idf.npy", self._idf)

    def load(self, directory: Path) -> None:
        self._vocabulary = {str(k): int(v) for k, v in read_json(directory / "vocabulary.json").items()}
        self._idf = read_array(directory / "idf.npy")
        self._analyze = self._make_analyzer()
        self._remember_words()

    def _remember_words(self) -> None:
        """A word's n-gram ids, worked out once per model: chats repeat their words (bounded)."""
        self._word_terms = lru_cache(maxsize=WORDS_REMEMBERED)(self._terms_of_word)


def to_csr(messages: list[Message]) -> sp.csr_matrix:
    """All feature blocks of all messages as one matrix (one row per message)."""
    import scipy.sparse as sp  # slow to import: batches (training, evaluation) only

    if not messages or not messages[0].features:
        raise RuntimeError("a classifier needs a featurizer before it in the pipeline")
    sizes = [block.size for block in messages[0].features]
    offsets = np.cumsum([0, *sizes[:-1]])
    indices, values, lengths = [], [], []
    for message in messages:
        length = 0
        for offset, block in zip(offsets, message.features, strict=True):
            indices.append(block.indices + offset)
            values.append(block.values)
            length += len(block.indices)
        lengths.append(length)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return sp.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
            indptr,
        ),
        shape=(len(messages), int(sum(sizes))),
    )


def flatten(message: Message) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """One message's feature blocks as (column indices, values) of the combined row."""
    indices, values, offset = [], [], 0
    for block in message.features:
        indices.append(block.indices + offset)
        values.append(block.values)
        offset += block.size
    return np.concatenate(indices), np.concatenate(values)
