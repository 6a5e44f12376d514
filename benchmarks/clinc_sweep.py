"""Sweep of sparse feature and classifier variants on CLINC150's oos-threshold protocol.

    python benchmarks/clinc_sweep.py [--datasets DIR] [--encoder MODEL]

Why it exists: to see which variant of the default sparse pipeline could reach Larson et
al.'s MLP row (93.4% in scope / 49.1% oos recall) without retraining the whole pipeline
for each. The text is tokenised once with botdesk's ``SpacyTokenizer`` (English, typo
correction as in the pipeline) and each feature block is built once with
``CountVectorsFeaturizer``; then each variant stacks blocks with weights and fits a
linear model. To keep it fast the softmax temperature is fitted on valid.jsonl's
in-scope lines (botdesk fits it out of fold on the training set), so the figures are
within a few tenths of ``benchmarks/nlu.py``'s, good for comparing variants, not for
reporting. The threshold is chosen on valid.jsonl (best accuracy with oos as a class)
unless a variant names another rule.

With ``--encoder MODEL`` (an installed model package or a model directory, as
``SentenceEmbeddingFeaturizer``'s ``model``) it sweeps the weight of that encoder's dense
block beside the default sparse ones instead, and adds the validation split's accuracy
(oos as a class, at its own threshold): the figure to choose the weight by.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.nlu.base import Message  # noqa: E402
from bot.nlu.classifier import fit_scale, softmax  # noqa: E402
from bot.nlu.data import TrainingData, load_jsonl  # noqa: E402
from bot.nlu.featurizers import to_csr  # noqa: E402
from bot.nlu.pipeline import Pipeline  # noqa: E402
from bot.settings import ComponentSpec  # noqa: E402

BLOCKS: dict[str, dict[str, Any]] = {
    "word13": {"analyzer": "word", "use_lemma": True, "min_ngram": 1, "max_ngram": 3},
    "word12": {"analyzer": "word", "use_lemma": True, "min_ngram": 1, "max_ngram": 2},
    "raw12": {"analyzer": "word", "use_lemma": False, "min_ngram": 1, "max_ngram": 2},
    "pairs": {"analyzer": "pairs"},
    "wb24": {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
    "wb25": {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
    "wb15": {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 5},
    "char36": {"analyzer": "char", "min_ngram": 3, "max_ngram": 6},
    "word13_plain_tf": {"analyzer": "word", "use_lemma": True, "max_ngram": 3, "sublinear_tf": False},
    "wb24_plain_tf": {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4, "sublinear_tf": False},
}
DEFAULT = {"word13": 1.0, "wb24": 1.0, "pairs": 0.35}
# (label, blocks with weights, model, C, threshold rule); "ensemble" averages a word and a char model.
VARIANTS: list[tuple[str, Any, str, float, str]] = [
    ("default (word 1-3, char_wb 2-4, pairs 0.35), SVM C=1", DEFAULT, "svm", 1.0, "accuracy"),
    ("C=0.5", DEFAULT, "svm", 0.5, "accuracy"),
    ("C=2", DEFAULT, "svm", 2.0, "accuracy"),
    ("char_wb 2-5", {"word13": 1.0, "wb25": 1.0, "pairs": 0.35}, "svm", 1.0, "accuracy"),
    ("char_wb 1-5", {"word13": 1.0, "wb15": 1.0, "pairs": 0.35}, "svm", 1.0, "accuracy"),
    ("char 3-6 (across words)", {"word13": 1.0, "char36": 1.0, "pairs": 0.35}, "svm", 1.0, "accuracy"),
    ("char_wb weight 0.7", {"word13": 1.0, "wb24": 0.7, "pairs": 0.35}, "svm", 1.0, "accuracy"),
    ("word 1-2 + char_wb 2-4", {"word12": 1.0, "wb24": 1.0}, "svm", 1.0, "accuracy"),
    ("+ raw words 1-2 (0.5)", {**DEFAULT, "raw12": 0.5}, "svm", 1.0, "accuracy"),
    (
        "plain tf (no sublinear)",
        {"word13_plain_tf": 1.0, "wb24_plain_tf": 1.0, "pairs": 0.35},
        "svm",
        1.0,
        "accuracy",
    ),
    ("ensemble: word+pairs SVM and char_wb SVM, mean of scores", "ensemble", "svm", 1.0, "accuracy"),
    ("default, threshold for in scope + oos recall", DEFAULT, "svm", 1.0, "balanced"),
]


def featurize(
    directory: Path, blocks_wanted: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    import scipy.sparse as sp  # noqa: F401  (to_csr needs it)

    train = [(t, i) for t, i in load_jsonl(directory / "train.jsonl") if i != "oos"]
    splits = {
        "train": train,
        "valid": load_jsonl(directory / "valid.jsonl"),
        "test": load_jsonl(directory / "test.jsonl"),
    }
    data = TrainingData.from_pairs(train)
    tokenizer = Pipeline("en", [ComponentSpec.model_validate({"name": "SpacyTokenizer"})]).components[0]
    messages = {k: [Message(text=t) for t, _ in v] for k, v in splits.items()}
    tokenizer.train(messages["train"], data)
    for key in ("valid", "test"):
        for message in messages[key]:
            tokenizer.process(message)
    blocks: dict[str, dict[str, Any]] = {}
    for name, options in blocks_wanted.items():
        featurizer = Pipeline(
            "en", [ComponentSpec.model_validate({"name": "CountVectorsFeaturizer", **options})]
        ).components[0]
        for split in messages.values():
            for message in split:
                message.features = []
        featurizer.train(messages["train"], data)
        for key in ("valid", "test"):
            featurizer.process_batch(messages[key])
        blocks[name] = {key: to_csr(messages[key]).tocsr() for key in messages}
    return blocks, {k: [i for _, i in v] for k, v in splits.items()}


def stack(blocks: dict[str, dict[str, Any]], weights: dict[str, float], split: str) -> Any:
    import scipy.sparse as sp

    return sp.hstack([blocks[name][split] * weight for name, weight in weights.items()]).tocsr()


def fit_scores(model: str, c: float, x: dict[str, Any], y: np.ndarray) -> dict[str, np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    estimator = (
        LinearSVC(C=c, max_iter=5000, random_state=42)
        if model == "svm"
        else LogisticRegression(C=c, max_iter=3000)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(x["train"], y)
    return {k: np.asarray(x[k] @ estimator.coef_.T) + estimator.intercept_ for k in ("valid", "test")}


def threshold(confidence: np.ndarray, predicted: np.ndarray, gold: np.ndarray, rule: str) -> float:
    best, chosen = -1.0, 0.0
    in_scope = gold != "oos"
    for t in np.linspace(0.0, 1.0, 401):
        final = np.where(confidence >= t, predicted, "oos")
        if rule == "accuracy":
            value = float((final == gold).mean())
        else:
            value = float((final[in_scope] == gold[in_scope]).mean() + (final[~in_scope] == "oos").mean())
        if value > best:
            best, chosen = value, float(t)
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--encoder", help="sweep this sentence encoder's weight beside the default blocks")
    args = parser.parse_args()
    started = time.perf_counter()
    blocks_wanted, variants = BLOCKS, VARIANTS
    if args.encoder:
        encoder = {"name": "SentenceEmbeddingFeaturizer", "model": args.encoder}
        blocks_wanted = {**{name: BLOCKS[name] for name in DEFAULT}, "encoder": encoder}
        variants = [
            (f"default + encoder weight {w}", {**DEFAULT, "encoder": w}, "svm", 1.0, "accuracy")
            for w in (1.0, 1.5, 2.0, 3.0)
        ]
    blocks, labels = featurize(args.datasets / "clinc150", blocks_wanted)
    classes = sorted(set(labels["train"]))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in labels["train"]])
    gold = {k: np.array(labels[k]) for k in ("valid", "test")}
    keep = gold["valid"] != "oos"
    y_valid = np.array([index[c] for c in gold["valid"][keep]])
    print(f"features built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print("| variant | in scope | oos recall | top-1 | valid accuracy |\n|---|---|---|---|---|")
    for label, weights, model, c, rule in variants:
        if weights == "ensemble":
            word = fit_scores(
                model, c, {k: stack(blocks, {"word13": 1, "pairs": 0.35}, k) for k in labels}, y
            )
            char = fit_scores(model, c, {k: stack(blocks, {"wb24": 1}, k) for k in labels}, y)
            scores = {k: (word[k] + char[k]) / 2 for k in word}
        else:
            scores = fit_scores(model, c, {k: stack(blocks, weights, k) for k in labels}, y)
        scale = fit_scale(scores["valid"][keep], y_valid)
        probs = {k: softmax(v * scale) for k, v in scores.items()}
        predicted = {k: np.array(classes)[p.argmax(1)] for k, p in probs.items()}
        t = threshold(probs["valid"].max(1), predicted["valid"], gold["valid"], rule)
        final = np.where(probs["test"].max(1) >= t, predicted["test"], "oos")
        on_valid = np.where(probs["valid"].max(1) >= t, predicted["valid"], "oos")
        in_scope = gold["test"] != "oos"
        print(
            f"| {label} | {(final[in_scope] == gold['test'][in_scope]).mean():.2%} "
            f"| {(final[~in_scope] == 'oos').mean():.2%} "
            f"| {(predicted['test'][in_scope] == gold['test'][in_scope]).mean():.2%} "
            f"| {(on_valid == gold['valid']).mean():.2%} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
