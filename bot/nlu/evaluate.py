"""How good is the NLU, and where should the fallback threshold be?

Two protocols:

- cross-validation on the project's own data (stratified k-fold);
- external train/test(/valid) JSON lines, intent ``oos`` = out of scope, following
  the CLINC150 "oos-threshold" protocol: train on in-scope lines only, pick the
  threshold on the validation split as the one with the best accuracy when oos is
  its own class, report in-scope accuracy (a fallback counts as wrong) and oos
  recall/precision on the test split.

Every prediction keeps its raw top intent and calibrated confidence (so the whole
precision–coverage curve and the calibration come from one run) and the pipeline's own
decision (answered, or fallen back with the threshold it chose for its target
precision). The out-of-scope intent of the pipeline (``out_of_scope``) and the gold
label ``oos`` of external data are the same class here: predicting it is not answering.
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
from bot.nlu.fallback import OUT_OF_SCOPE_INTENT, FallbackClassifier
from bot.nlu.pipeline import Pipeline
from bot.settings import ComponentSpec

OOS = "oos"
Progress = Callable[[str, int, int], None]
CALIBRATION_BINS = 10


def as_oos(label: str, out_of_scope_intent: str = OUT_OF_SCOPE_INTENT) -> str:
    """The project's out-of-scope intent and external data's ``oos`` are one class."""
    return OOS if label == out_of_scope_intent else label


@dataclass
class Predictions:
    """Gold labels with the model's raw top intent and confidence for each message."""

    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    final: list[str] = field(default_factory=list)
    """What the pipeline itself did: the intent it answered with, or ``nlu_fallback``."""
    thresholds: list[float] = field(default_factory=list)
    """The fallback threshold of each trained pipeline (one per fold or training)."""
    texts: list[str] = field(default_factory=list)
    """The messages themselves, where known: the report lists the ones the bot got wrong."""

    def extend(
        self,
        gold: Sequence[str],
        predicted: Sequence[str],
        confidence: Sequence[float],
        final: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        names = [as_oos(p) for p in predicted]
        self.texts.extend(texts if texts is not None else [""] * len(gold))
        self.gold.extend(as_oos(g) for g in gold)
        self.predicted.extend(names)
        self.confidence.extend(confidence)
        if final is None:  # an engine that only ranks: it answers its top intent unless out of scope
            final = [FALLBACK_INTENT if p == OOS else p for p in names]
        self.final.extend(final)

    def arrays(self) -> tuple[NDArray[np.str_], NDArray[np.str_], NDArray[np.float64]]:
        return np.array(self.gold), np.array(self.predicted), np.array(self.confidence, dtype=np.float64)

    def with_threshold(self, threshold: float) -> list[str]:
        return [
            p if c >= threshold and p != OOS else FALLBACK_INTENT
            for p, c in zip(self.predicted, self.confidence, strict=True)
        ]


@dataclass
class CurvePoint:
    threshold: float
    coverage: float
    precision: float


@dataclass
class ReliabilityBin:
    """Messages whose top confidence fell in [low, high): how sure the model was, how often right."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True)
class Mistake:
    """A message the bot got wrong: an in-scope one not answered with its intent, or an
    out-of-scope one answered. ``answered`` is what the bot did (``nlu_fallback``: it did not
    answer); ``predicted`` its top intent and ``confidence`` that intent's, as Rasa's
    ``intent_errors.json`` lists them."""

    text: str
    gold: str
    predicted: str
    answered: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.gold,
            "intent_prediction": {"name": self.predicted, "confidence": round(self.confidence, 4)},
            "answered": self.answered,
        }


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
    ece: float = 0.0
    reliability: list[ReliabilityBin] = field(default_factory=list)
    threshold_source: str = ""
    errors: list[Mistake] = field(default_factory=list)

    def headline(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "answered_and_right": round(self.accuracy, 4),
            "ece": round(self.ece, 4),
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


def _fallback(pipeline: Pipeline) -> FallbackClassifier | None:
    return next((c for c in pipeline.components if isinstance(c, FallbackClassifier)), None)


def pipeline_threshold(pipeline: Pipeline) -> float:
    fallback = _fallback(pipeline)
    return fallback.threshold if fallback is not None else 0.0


def _predict(pipeline: Pipeline, texts: Sequence[str]) -> tuple[list[str], list[float], list[str]]:
    fallback = _fallback(pipeline)
    oos_intent = fallback.options.out_of_scope_intent if fallback is not None else OUT_OF_SCOPE_INTENT
    names, confidences, finals = [], [], []
    for message in pipeline.parse_many(texts):
        top = message.ranking[0] if message.ranking else None
        names.append(as_oos(top.name, oos_intent) if top else FALLBACK_INTENT)
        confidences.append(top.confidence if top else 0.0)
        finals.append(message.intent.name if message.intent is not None else FALLBACK_INTENT)
    return names, confidences, finals


def _extend(predictions: Predictions, pipeline: Pipeline, gold: Sequence[str], texts: Sequence[str]) -> None:
    names, confidences, finals = _predict(pipeline, texts)
    predictions.extend(gold, names, confidences, finals, texts)
    predictions.thresholds.append(pipeline_threshold(pipeline))


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
        _extend(predictions, pipeline, test.labels(), test.texts())
    if progress is not None:
        progress("done", folds, folds)
    return predictions, float(np.mean(seconds))


def holdout_split(data: TrainingData, share: float, seed: int = 42) -> tuple[TrainingData, TrainingData]:
    """A stratified split of the project's data: (training part, held-out part)."""
    from sklearn.model_selection import train_test_split  # slow to import: only evaluations need it

    labels = data.labels()
    counts = Counter(labels)
    rare = sorted(name for name, n in counts.items() if n < 2)
    if rare:
        raise DataError(
            f"holding data out needs at least 2 examples per intent; too few in: {', '.join(rare)}"
        )
    indexes = np.arange(len(labels))
    train_idx, test_idx = train_test_split(indexes, test_size=share, stratify=labels, random_state=seed)
    return data.subset(sorted(train_idx)), data.subset(sorted(test_idx))


def train_and_predict(
    language: str,
    specs: Sequence[ComponentSpec],
    train: Sequence[tuple[str, str]],
    tests: Sequence[Sequence[tuple[str, str]]],
    progress: Progress | None = None,
    data: TrainingData | None = None,
) -> tuple[list[Predictions], float, Pipeline]:
    """Train on the in-scope lines of ``train`` (or on ``data``, a project's own, with its
    entities and synonyms); predict every split in ``tests``. External ``oos`` lines are
    never trained on (the CLINC150 "oos-threshold" protocol)."""
    pipeline = Pipeline(language, specs)
    if progress is not None:
        progress("training", 0, len(tests) + 1)
    if data is None:
        data = TrainingData.from_pairs([(t, i) for t, i in train if i != OOS])
    seconds = pipeline.train(data)
    results = []
    for step, split in enumerate(tests, start=1):
        if progress is not None:
            progress("predicting", step, len(tests) + 1)
        predictions = Predictions()
        _extend(predictions, pipeline, [i for _, i in split], [t for t, _ in split])
        results.append(predictions)
    return results, seconds, pipeline


def best_accuracy_threshold(predictions: Predictions) -> float:
    """The threshold with the best accuracy when ``oos`` is a class of its own."""
    gold, predicted, confidence = predictions.arrays()
    order = np.argsort(confidence)
    conf_sorted = confidence[order]
    # A message whose top intent is out of scope falls back at any threshold.
    oos_predicted = predicted == OOS
    in_scope_correct = ((gold == predicted) & (gold != OOS))[order].astype(np.int64)
    is_oos = ((gold == OOS) & ~oos_predicted)[order].astype(np.int64)
    # Threshold just above conf_sorted[k-1]: the first k messages fall back.
    fallback_oos = np.concatenate([[0], np.cumsum(is_oos)])
    answered_correct = in_scope_correct.sum() - np.concatenate([[0], np.cumsum(in_scope_correct)])
    correct = fallback_oos + answered_correct + int(((gold == OOS) & oos_predicted).sum())
    best = int(np.argmax(correct))
    if best == 0:
        return 0.0
    if best == len(conf_sorted):
        return float(np.nextafter(conf_sorted[-1], np.inf))
    return float((conf_sorted[best - 1] + conf_sorted[best]) / 2)


def precision_coverage_curve(predictions: Predictions, points: int = 101) -> list[CurvePoint]:
    gold, predicted, confidence = predictions.arrays()
    correct = (gold == predicted) & (gold != OOS)
    answerable = predicted != OOS
    curve = []
    for threshold in np.linspace(0.0, 1.0, points):
        answered = (confidence >= threshold) & answerable
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


def reliability(predictions: Predictions, bins: int = CALIBRATION_BINS) -> tuple[float, list[ReliabilityBin]]:
    """Expected calibration error of the top confidence, and the reliability diagram's bins.

    ECE = sum over equal-width confidence bins of (share of messages) x |accuracy - mean
    confidence|: 0 when "0.8" is right 80% of the time. The top intent counts as right
    when it is the gold one (out of scope included).
    """
    gold, predicted, confidence = predictions.arrays()
    if not len(gold):
        return 0.0, []
    right = gold == predicted
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    result, ece = [], 0.0
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        if not count:
            continue
        mean, accuracy = float(confidence[inside].mean()), float(right[inside].mean())
        ece += count / len(gold) * abs(accuracy - mean)
        result.append(ReliabilityBin(b / bins, (b + 1) / bins, count, mean, accuracy))
    return float(ece), result


def summarise(
    mode: str,
    predictions: Predictions,
    threshold: float | None,
    train_seconds: float,
    target_precision: float | None = None,
) -> Evaluation:
    """Figures at ``threshold``; ``None``: as the pipeline itself decided (its own thresholds)."""
    gold, predicted, _ = predictions.arrays()
    if threshold is None:
        final = np.array(predictions.final)
        threshold = float(np.mean(predictions.thresholds)) if predictions.thresholds else 0.0
        source = "chosen by the pipeline for its target precision (mean over trainings)"
    else:
        final = np.array(predictions.with_threshold(threshold))
        source = "given"
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
    errors = [
        Mistake(text, g, pr, answer, confidence)
        for text, g, pr, answer, confidence in zip(
            predictions.texts,
            gold.tolist(),
            predicted.tolist(),
            final.tolist(),
            predictions.confidence,
            strict=True,
        )
        if (answer != g if g != OOS else answer != FALLBACK_INTENT)
    ]
    errors.sort(key=lambda mistake: -mistake.confidence)  # the surest mistakes first: they do most harm
    curve = precision_coverage_curve(predictions)
    ece, bins = reliability(predictions)
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
        ece=ece,
        reliability=bins,
        threshold_source=source,
        errors=errors,
    )
