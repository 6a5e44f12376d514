"""botdesk's n-gram analyzers cut text exactly as scikit-learn's, so older models still parse the same.

Models trained before ``bot.nlu.analyzers`` existed hold vocabularies built by
scikit-learn's own analyzers; parsing now goes through botdesk's. Any difference would
silently drop features of messages in production, so the two are compared on random text.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer

from bot.nlu import analyzers

REPO = Path(__file__).resolve().parents[2]
RANGES = [(1, 1), (1, 2), (1, 3), (2, 2), (2, 4), (3, 5), (1, 5)]
# Words, Cyrillic, digits and every kind of whitespace run the tokenizer could leave behind.
TEXT = st.text(alphabet=st.sampled_from(list("аб вгд ёжezx19\t\n\u00a0\u2003 😊")), max_size=40)


def sklearn_analyzer(kind: str, ngrams: tuple[int, int]) -> analyzers.Analyzer:
    """scikit-learn's analyzer for the options botdesk trained with before (tokens split on whitespace)."""
    word = kind == "word"
    vectorizer = CountVectorizer(
        analyzer=kind,
        tokenizer=str.split if word else None,
        token_pattern=None,
        lowercase=False,
        ngram_range=ngrams,
    )
    built: analyzers.Analyzer = vectorizer.build_analyzer()
    return built


OURS = {"word": analyzers.word_ngrams, "char_wb": analyzers.char_wb_ngrams, "char": analyzers.char_ngrams}


@pytest.mark.parametrize("kind", sorted(OURS))
@pytest.mark.parametrize("ngrams", RANGES)
@settings(max_examples=60, deadline=None)
@given(text=TEXT)
@example(text="")
@example(text="a")
@example(text="  где   мой  заказ ")
def test_same_terms_as_scikit_learn(kind: str, ngrams: tuple[int, int], text: str) -> None:
    assert OURS[kind](*ngrams)(text) == sklearn_analyzer(kind, ngrams)(text)


def test_pairs_ignore_order_repeats_and_stop_words() -> None:
    pairs = analyzers.pairs(frozenset({"и"}))
    assert pairs("возврат карта и возврат") == ["возврат|карта"]
    assert pairs("карта возврат") == pairs("возврат карта")


def test_parsing_imports_neither_scikit_learn_nor_scipy(tmp_path: Path) -> None:
    """`botdesk run` loads a model and parses: scikit-learn and scipy would add a second to its start."""
    script = f"""
from pathlib import Path
from bot.nlu.data import TrainingData
from bot.nlu.defaults import default_pipeline
from bot.nlu.pipeline import Pipeline

pairs = [("hello friendly robot", "greet"), ("good morning robot", "greet"),
         ("goodbye friendly robot", "bye"), ("farewell robot buddy", "bye")]
trained = Pipeline("en", default_pipeline())
trained.train(TrainingData.from_pairs(pairs))
trained.persist(Path({str(tmp_path)!r}))
"""
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    parse = f"""
import sys
from pathlib import Path
from bot.nlu.defaults import default_pipeline
from bot.nlu.pipeline import Pipeline

pipeline = Pipeline("en", default_pipeline())
pipeline.load(Path({str(tmp_path)!r}))
print(pipeline.parse("hello robot").intent.name, "sklearn" in sys.modules, "scipy" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", parse], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.split() == ["greet", "False", "False"], result.stderr[-2000:]
