"""WordVectorsFeaturizer: navec's Russian vectors from the natasha wheel as a dense block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.errors import ConfigError, ModelError
from bot.nlu.base import Message
from bot.nlu.data import TrainingData
from bot.nlu.pipeline import Pipeline
from bot.nlu.word_vectors import WordVectorsFeaturizer, resolve_vectors
from bot.settings import ComponentSpec

pytest.importorskip("navec")
try:
    resolve_vectors("navec")
except ConfigError:
    pytest.skip("natasha (the navec vectors) is not installed", allow_module_level=True)

SHOP = {
    "order_cancel": ["отменить заказ", "отмените мой заказ", "хочу отменить покупку", "отмена заказа"],
    "greet": ["привет", "здравствуйте", "добрый день", "доброе утро"],
    "delivery": ["сколько стоит доставка", "доставка в казань", "когда привезут", "курьерская доставка"],
}


def _pipeline(vectors: bool) -> Pipeline:
    specs: list[dict[str, object]] = [{"name": "SpacyTokenizer"}]
    if vectors:
        specs.append({"name": "WordVectorsFeaturizer", "weight": 1.0})
    specs.append({"name": "CountVectorsFeaturizer", "analyzer": "word", "weight": 0.3})
    specs += [
        {"name": "LinearIntentClassifier", "calibration_folds": 2},
        {"name": "FallbackClassifier", "threshold": 0.0, "out_of_scope_examples": "none"},
    ]
    pipeline = Pipeline("ru", [ComponentSpec.model_validate(s) for s in specs])
    pipeline.train(TrainingData.from_pairs([(t, i) for i, texts in SHOP.items() for t in texts]))
    return pipeline


@pytest.fixture(scope="module")
def with_vectors() -> Pipeline:
    return _pipeline(vectors=True)


def test_unseen_words_close_in_meaning_help(with_vectors: Pipeline) -> None:
    # "аннулировать" and "бронь" never occur in training; navec puts the first near "отменить".
    message = with_vectors.parse("аннулировать")
    assert message.ranking[0].name == "order_cancel", message.ranking
    without = _pipeline(vectors=False).parse("аннулировать")
    cancel = next(s.confidence for s in without.ranking if s.name == "order_cancel")
    assert message.ranking[0].confidence > cancel + 0.1, "the sparse features alone know nothing of it"


def test_the_block_is_normalised_and_empty_for_unknown_words(with_vectors: Pipeline) -> None:
    featurizer = next(c for c in with_vectors.components if isinstance(c, WordVectorsFeaturizer))
    message = Message(text="отмените заказ")
    with_vectors.components[0].process(message)
    assert np.linalg.norm(featurizer.vector(message)) == pytest.approx(1.0)
    nothing = Message(text="ыфвапр")
    with_vectors.components[0].process(nothing)
    assert not featurizer.vector(nothing).any()


def test_round_trip_predicts_the_same(with_vectors: Pipeline, tmp_path: Path) -> None:
    with_vectors.persist(tmp_path / "m")
    specs = with_vectors.specs
    loaded = Pipeline("ru", specs)
    loaded.load(tmp_path / "m")
    for text in ("аннулировать бронь", "привет", "доставка завтра"):
        a, b = with_vectors.parse(text).ranking, loaded.parse(text).ranking
        assert [s.name for s in a] == [s.name for s in b]
        assert np.allclose([s.confidence for s in a], [s.confidence for s in b])


def test_other_vectors_are_refused_at_load(with_vectors: Pipeline, tmp_path: Path) -> None:
    with_vectors.persist(tmp_path / "m")
    index = next(i for i, c in enumerate(with_vectors.components) if isinstance(c, WordVectorsFeaturizer))
    probe = tmp_path / "m" / f"{index:02d}_WordVectorsFeaturizer" / "probe.npy"
    np.save(probe, np.zeros((3, 300), dtype=np.float32), allow_pickle=False)
    with pytest.raises(ModelError, match="botdesk train --force"):
        Pipeline("ru", with_vectors.specs).load(tmp_path / "m")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no navec vectors"):
        resolve_vectors(str(tmp_path / "nothing.tar"))
