"""A multilingual sentence encoder from a local model directory (no hub, no download).

The test builds its own tiny BERT-style sentence-transformers model with a Russian and
English WordPiece vocabulary (random weights: the point is the loading, the Russian
tokenisation and the round trip, not the meaning), saves it to a directory, and runs a
Russian pipeline with ``SentenceEmbeddingFeaturizer(model: <that directory>)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.nlu.data import TrainingData
from bot.nlu.embeddings import SentenceEmbeddingFeaturizer
from bot.nlu.pipeline import Pipeline
from bot.settings import ComponentSpec

pytestmark = pytest.mark.slow

SHOP = {
    "delivery": ["сколько стоит доставка", "доставка в казань", "когда привезут", "курьер приедет завтра?"],
    "refund": ["хочу вернуть товар", "верните деньги", "возврат покупки", "как сдать товар обратно"],
    "greet": ["привет", "здравствуйте", "добрый день", "hello"],
}
WORDS = sorted({w for texts in SHOP.values() for t in texts for w in t.replace("?", " ").split()})


def build_tiny_encoder(directory: Path) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    st = pytest.importorskip("sentence_transformers")
    try:  # sentence-transformers >= 5.2 moved the building blocks
        from sentence_transformers.sentence_transformer import modules
    except ImportError:
        from sentence_transformers import models as modules
    torch.manual_seed(0)
    letters = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяabcdefghijklmnopqrstuvwxyz0123456789"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "?", ",", ".", *WORDS]
    vocab += [c for c in letters] + [f"##{c}" for c in letters]
    raw = directory / "bert"
    raw.mkdir(parents=True)
    (raw / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(raw / "vocab.txt"), do_lower_case=True)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    transformers.BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = modules.Transformer(str(raw), max_seq_length=48)
    dimension = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pooling = modules.Pooling(dimension(), pooling_mode="mean")
    model_dir = directory / "tiny-multilingual"
    st.SentenceTransformer(modules=[word, pooling], device="cpu").save(str(model_dir))
    return model_dir


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("encoder"))


def _pipeline(model: Path) -> Pipeline:
    specs = [
        {"name": "SpacyTokenizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
        {"name": "SentenceEmbeddingFeaturizer", "model": str(model), "weight": 1.0},
        {"name": "LinearIntentClassifier", "calibration_folds": 2},
        {"name": "FallbackClassifier", "threshold": 0.0, "out_of_scope_examples": "none"},
    ]
    return Pipeline("ru", [ComponentSpec.model_validate(s) for s in specs])


def test_russian_text_is_encoded_from_the_local_directory(tiny_encoder: Path) -> None:
    pipeline = _pipeline(tiny_encoder)
    data = TrainingData.from_pairs([(t, i) for i, texts in SHOP.items() for t in texts])
    pipeline.train(data)
    featurizer = next(c for c in pipeline.components if isinstance(c, SentenceEmbeddingFeaturizer))
    vectors = featurizer.encoder.encode(["сколько стоит доставка", "верните деньги"], 8)
    assert vectors.shape == (2, 32)
    assert not np.allclose(vectors[0], vectors[1]), "Russian words are real tokens, not all [UNK]"
    for intent, texts in SHOP.items():
        assert pipeline.parse(texts[0]).ranking[0].name == intent


def test_a_saved_model_predicts_the_same_after_loading(tiny_encoder: Path, tmp_path: Path) -> None:
    pipeline = _pipeline(tiny_encoder)
    pipeline.train(TrainingData.from_pairs([(t, i) for i, texts in SHOP.items() for t in texts]))
    pipeline.persist(tmp_path / "model")
    loaded = _pipeline(tiny_encoder)
    loaded.load(tmp_path / "model")
    for text in ("доставка завтра", "хочу вернуть", "привет"):
        a, b = pipeline.parse(text).ranking, loaded.parse(text).ranking
        assert [s.name for s in a] == [s.name for s in b]
        assert np.allclose([s.confidence for s in a], [s.confidence for s in b], atol=1e-5)
