"""A parsed message gets exactly the features training gave the same text.

Parsing looks each word's character n-grams up once per model (``char_wb`` never
crosses a word) and counts the rest straight from the analyzer; training counts with
scikit-learn. Any difference would shift every confidence the classifier gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.base import Message, PipelineContext
from bot.nlu.data import TrainingData
from bot.nlu.featurizers import CountVectorsFeaturizer, CountVectorsOptions

TRAINING = [
    "сколько стоит доставка по москве",
    "где мой заказ",
    "доставка курьером завтра",
    "можно вернуть велосипед",
    "спасибо большое",
]
TEXT = st.text(alphabet=st.sampled_from(list("доставказмквег 19\t\u00a0\u2003x")), max_size=60)
KINDS = [
    {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
    {"analyzer": "word", "use_lemma": False, "min_ngram": 1, "max_ngram": 3},
    {"analyzer": "char", "min_ngram": 1, "max_ngram": 3},
]


def message(text: str) -> Message:
    return Message(text=text, normalized=text)


def trained(options: dict[str, object], *messages: Message) -> CountVectorsFeaturizer:
    featurizer = CountVectorsFeaturizer(CountVectorsOptions(**options), PipelineContext("ru"))  # type: ignore[arg-type]
    featurizer.train([*(message(t) for t in TRAINING), *messages], TrainingData([]))
    return featurizer


def as_dict(m: Message) -> dict[int, float]:
    (block,) = m.features
    return dict(zip(block.indices.tolist(), block.values.tolist(), strict=True))


@pytest.mark.parametrize("options", KINDS, ids=[str(k["analyzer"]) for k in KINDS])
@settings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_parse_features_are_the_training_features(options: dict[str, object], text: str) -> None:
    batch = message(text)
    featurizer = trained(options, batch)  # the text's n-grams are in the vocabulary
    parsed = message(text)
    featurizer.process(parsed)
    assert as_dict(parsed) == pytest.approx(as_dict(batch))


def test_words_outside_the_vocabulary_add_nothing_and_are_remembered(tmp_path: Path) -> None:
    featurizer = trained(KINDS[0])
    featurizer.persist(tmp_path)
    loaded = CountVectorsFeaturizer(CountVectorsOptions(**KINDS[0]), PipelineContext("ru"))  # type: ignore[arg-type]
    loaded.load(tmp_path)
    known, unknown = message("доставка"), message("доставка ъъъъ")
    loaded.process(known)
    loaded.process(unknown)
    assert as_dict(known) == as_dict(unknown) and np.isfinite(list(as_dict(known).values())).all()
    assert loaded._word_terms.cache_info().currsize == 2  # type: ignore[attr-defined]
