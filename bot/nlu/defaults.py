"""The default NLU pipeline, used when evaluating external data without a project."""

from __future__ import annotations

from bot.settings import ComponentSpec

DEFAULT_PIPELINE: list[dict[str, object]] = [
    {"name": "SpacyTokenizer"},
    {"name": "RegexEntityExtractor"},
    {"name": "CountVectorsFeaturizer", "analyzer": "word", "use_lemma": True, "min_ngram": 1, "max_ngram": 3},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
    {"name": "CountVectorsFeaturizer", "analyzer": "pairs", "weight": 0.35},
    {"name": "LinearIntentClassifier", "model": "svm", "C": 1.0},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier"},
]

EMBEDDING_FEATURIZER: dict[str, object] = {"name": "SentenceEmbeddingFeaturizer"}
"""The optional dense block (the ``embeddings`` extra), placed just before the classifier."""


def default_pipeline() -> list[ComponentSpec]:
    return [ComponentSpec.model_validate(item) for item in DEFAULT_PIPELINE]


def embeddings_pipeline() -> list[ComponentSpec]:
    """The default pipeline plus sentence embeddings: more accurate, slower to parse, ~1 GB installed."""
    items = list(DEFAULT_PIPELINE)
    at = next(i for i, item in enumerate(items) if item["name"] == "LinearIntentClassifier")
    items.insert(at, EMBEDDING_FEATURIZER)
    return [ComponentSpec.model_validate(item) for item in items]
