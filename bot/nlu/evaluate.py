"""How good is the NLU, and where should the fallback threshold be?

Two protocols:

- cross-validation on the project's own data (stratified k-fold);
- external train/test(/valid) JSON lines, intent ``oos`` = out of scope, following
  the CLINC150 "oos-threshold" protocol: train on in-scope lines only, pick the
  threshold on the validation split as the one with the best accuracy when oos is
  its own class, report in-scope accuracy (a fallback counts as wrong) and oos
  recall/precision on the test split.

Every prediction keeps its raw top intent and calibrated confidence, so the whole
precision–coverage curve comes from one run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.errors import DataError
from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.data import TrainingData
from bot.nlu.pipeline import Pipeline
from bot.settings import ComponentSpec

OOS = "oos"
Progress = Callable[[str, int, int], None]


@dataclass
class Predictions:
    """Gold labels with the model's raw top intent and confidence for each message."""

    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)

    def extend(self, gold: Sequence[str], predicted: Sequence[str], confidence: Sequence[float]) -> None:
        self.gold.extend(gold)
        self.predicted.extend(predicted)
        self.confidence.extend(confidence)

    def arrays(self) -> tuple[NDArray[np.str_], NDArray[np.str_], NDArray[np.float64]]:
        return np.array(self.gold), np.array(self.predicted), np.array(self.confidence, dtype=np.float64)

    def with_threshold(self, threshold: float) -> list[str]:
        return [
            p if c >= threshold else FALLBACK_INTENT
            for p, c in zip(self.predicted, self.confidence, strict=True)
        ]


@dataclass
class CurvePoint:
    threshold: float
    coverage: float
    precision: float


@dataclass
class Evaluation:
    mode: str
    threshold: float
    accuracy: float
    top1_accuracy: float
    macro_f1: float
    coverage: float
    precision_answered: float
    oos_recall: float | None
    oos_precision: float | None
    train_seconds: float
    messages: int
    per_intent: list[dict[str, Any]]
    confused_pairs: list[tuple[str, str, int]]
    curve: list[CurvePoint]
    target_precision: float | None
    target_threshold: float | None
    labels: list[str]
    confusion: NDArray[np.int64]

    def headline(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "oos_recall": None if self.oos_recall is None else round(self.oos_recall, 4),
            "oos_precision": None if self.oos_precision is None else round(self.oos_precision, 4),
            "threshold": round(self.threshold, 4),
            "train_seconds": round(self.train_seconds, 2),
            "top1_accuracy": round(self.top1_accuracy, 4),
            "coverage": round(self.coverage, 4),
            "target_precision": self.target_precision,
            "threshold_for_target_precision": None
            if self.target_threshold is None
            else round(self.target_threshold, 4),
            "messages": self.messages,
        }


def _predict(pipeline: Pipeline, texts: Sequence[str]) -> tuple[list[str], list[float]]:
    names, confidences = [], []
    for message in pipeline.parse_many(texts):
        top = message.ranking[0] if message.ranking else None
        names.append(top.name if top else FALLBACK_INTENT)
        confidences.append(top.confidence if top else 0.0)
    return names, confidences


def cross_validate(
    language: str,
    specs: Sequence[ComponentSpec],
    data: TrainingData,
    folds: int = 5,
    progress: Progress | None = None,
    seed: int = 42,
) -> tuple[Predictions, float]:
    """Out-of-fold predictions for every example; returns them and mean training seconds."""
    labels = data.labels()
    counts = Counter(labels)
    rare = sorted(name for name, n in counts.items() if n < folds)
    if rare:
        raise DataError(
            f"{folds}-fold cross-validation needs at least {folds} examples per intent; "
            f"too few in: {', '.join(rare)}"
        )
    from sklearn.model_selection import StratifiedKFold  # slow to import: only evaluations need it

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predictions = Predictions()
    seconds = []
    for fold, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        if progress is not None:
            progress(f"fold {fold + 1}/{folds}", fold, folds)
        pipeline = Pipeline(language, specs)
        seconds.append(pipeline.train(data.subset(train_idx)))
        test = data.subset(test_idx)
        names, confidences = _predict(pipeline, test.texts())
        predictions.extend(test.labels(), names, confidences)
    if progress is not None:
        progress("done", folds, folds)
    return predictions, float(np.mean(seconds))


def train_and_predict(
    language: str,
    specs: Sequence[ComponentSpec],
    train: Sequence[tuple[str, str]],
    tests: Sequence[Sequence[tuple[str, str]]],
    progress: Progress | None = None,
) -> tuple[list[Predictions], float, Pipeline]:
    """Train on the in-scope lines of ``train``; predict every split in ``tests``."""
    in_scope = [(t, i) for t, i in train if i != OOS]
    pipeline = Pipeline(language, specs)
    if progress is not None:
        progress("training", 0, len(tests) + 1)
    seconds = pipeline.train(TrainingData.from_pairs(in_scope))
    results = []
    for step, split in enumerate(tests, start=1):
        if progress is not None:
            progress("predicting", step, len(tests) + 1)
        names, confidences = _predict(pipeline, [t for t, _ in split])
        predictions = Predictions()
        predictions.extend([i for _, i in split], names, confidences)
        results.append(predictions)
    return results, seconds, pipeline


def best_accuracy_threshold(predictions: Predictions) -> float:
    """The threshold with the best accuracy when ``oos`` is a class of its own."""
    gold, predicted, confidence = predictions.arrays()
    order = np.argsort(confidence)
    conf_sorted = confidence[order]
    in_scope_correct = ((gold == predicted) & (gold != OOS))[order].astype(np.int64)
    is_oos = (gold == OOS)[order].astype(np.int64)
    # Threshold just above conf_sorted[k-1]: the first k messages fall back.
    fallback_oos = np.concatenate([[0], np.cumsum(is_oos)])
    answered_correct = in_scope_correct.sum() - np.concatenate([[0], np.cumsum(in_scope_correct)])
    correct = fallback_oos + answered_correct
    best = int(np.argmax(correct))
    if best == 0:
        return 0.0
    if best == len(conf_sorted):
        return float(np.nextafter(conf_sorted[-1], np.inf))
    return float((conf_sorted[best - 1] + conf_sorted[best]) / 2)


def precision_coverage_curve(predictions: Predictions, points: int = 101) -> list[CurvePoint]:
    gold, predicted, confidence = predictions.arrays()
    correct = (gold == predicted) & (gold != OOS)
    curve = []
    for threshold in np.linspace(0.0, 1.0, points):
        answered = confidence >= threshold
        n_answered = int(answered.sum())
        in_scope = int((gold != OOS).sum()) or 1
        coverage = float((answered & (gold != OOS)).sum()) / in_scope
        precision = float(correct[answered].sum()) / n_answered if n_answered else 1.0
        curve.append(CurvePoint(float(threshold), coverage, precision))
    return curve


def threshold_for_precision(curve: list[CurvePoint], target: float) -> float | None:
    for point in curve:  # ascending thresholds: the first one reaching the target keeps the most
        if point.precision >= target and point.coverage > 0:
            return point.threshold
    return None


def summarise(
    mode: str,
    predictions: Predictions,
    threshold: float,
    train_seconds: float,
    target_precision: float | None = None,
) -> Evaluation:
    gold, predicted, _ = predictions.arrays()
    final = np.array(predictions.with_threshold(threshold))
    in_scope = gold != OOS
    has_oos = bool((~in_scope).any())
    accuracy = float((final[in_scope] == gold[in_scope]).mean()) if in_scope.any() else 0.0
    top1 = float((predicted[in_scope] == gold[in_scope]).mean()) if in_scope.any() else 0.0
    answered = final != FALLBACK_INTENT
    coverage = float(answered[in_scope].mean()) if in_scope.any() else 0.0
    precision_answered = float((final[answered] == gold[answered]).mean()) if answered.any() else 1.0
    oos_recall = oos_precision = None
    if has_oos:
        fell_back = ~answered
        oos_recall = float(fell_back[~in_scope].mean())
        oos_precision = float((~in_scope)[fell_back].mean()) if fell_back.any() else 0.0
    from sklearn.metrics import precision_recall_fscore_support  # slow to import: only evaluations need it

    labels = sorted(set(gold[in_scope].tolist()))
    p, r, f, support = precision_recall_fscore_support(gold, final, labels=labels, zero_division=0)
    per_intent = [
        {
            "intent": name,
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(labels)
    ]
    confused = Counter(
        (g, pr) for g, pr in zip(gold.tolist(), predicted.tolist(), strict=True) if g != pr and g != OOS
    )
    matrix_labels = labels + ([OOS] if has_oos else []) + [FALLBACK_INTENT]
    position = {name: i for i, name in enumerate(matrix_labels)}
    confusion = np.zeros((len(matrix_labels), len(matrix_labels)), dtype=np.int64)
    for g, pr in zip(gold.tolist(), final.tolist(), strict=True):
        if pr in position:
            confusion[position[g], position[pr]] += 1
    curve = precision_coverage_curve(predictions)
    return Evaluation(
        mode=mode,
        threshold=threshold,
        accuracy=accuracy,
        top1_accuracy=top1,
        macro_f1=float(np.mean(f)) if len(f) else 0.0,
        coverage=coverage,
        precision_answered=precision_answered,
        oos_recall=oos_recall,
        oos_precision=oos_precision,
        train_seconds=train_seconds,
        messages=len(gold),
        per_intent=per_intent,
        confused_pairs=[(g, pr, n) for (g, pr), n in confused.most_common(10)],
        curve=curve,
        target_precision=target_precision,
        target_threshold=threshold_for_precision(curve, target_precision) if target_precision else None,
        labels=matrix_labels,
        confusion=confusion,
    )
