"""LinearIntentClassifier: a linear model over the sparse features, calibrated.

Confidence is a one-vs-rest score passed through a sigmoid fitted on out-of-fold
scores (Platt scaling, pooled over intents). Unlike a softmax it does not shrink as
intents are added: it estimates "is this message intent k?" for each k, so one
threshold keeps its meaning when the bot grows.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from bot.nlu.base import Component, ComponentOptions, IntentScore, Message, PipelineContext
from bot.nlu.data import TrainingData
from bot.nlu.featurizers import flatten, to_csr
from bot.nlu.persist import read_array, read_json, write_array, write_json
from bot.nlu.registry import register_component

if TYPE_CHECKING:  # scikit-learn and scipy take a second to import: only training imports them
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

RANKING_LENGTH = 10


class LinearIntentOptions(ComponentOptions):
    model: Literal["svm", "logreg"] = "svm"
    C: float = 1.0
    class_weight: Literal["balanced"] | None = None
    calibration_folds: int = 5
    max_iter: int = 5000
    ranking_length: int = RANKING_LENGTH
    random_state: int = 42


@register_component
class LinearIntentClassifier(Component):
    name = "LinearIntentClassifier"
    Options = LinearIntentOptions
    options: LinearIntentOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        self.classes: list[str] = []
        self._coef_t: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._intercept: NDArray[np.float64] = np.zeros(0)
        self._platt = (1.0, 0.0)

    def _estimator(self) -> LinearSVC | LogisticRegression:
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        o = self.options
        if o.model == "svm":
            return LinearSVC(
                C=o.C, class_weight=o.class_weight, max_iter=o.max_iter, random_state=o.random_state
            )
        return LogisticRegression(
            C=o.C, class_weight=o.class_weight, max_iter=o.max_iter, random_state=o.random_state
        )

    def _fit(
        self, features: sp.csr_matrix, labels: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fit and return (coef [K x D], intercept [K]) over *all* classes."""
        from sklearn.exceptions import ConvergenceWarning

        estimator = self._estimator()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(features, labels)
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        intercept = np.asarray(estimator.intercept_, dtype=np.float64)
        present = np.asarray(estimator.classes_)
        if coef.shape[0] == 1:  # binary: sklearn keeps one row for the positive class
            coef = np.vstack([-coef, coef])
            intercept = np.concatenate([-intercept, intercept])
        full_coef = np.zeros((len(self.classes), features.shape[1]))
        full_intercept = np.full(len(self.classes), -1e3)
        full_coef[present] = coef
        full_intercept[present] = intercept
        return full_coef, full_intercept

    def train(self, messages: list[Message], data: TrainingData) -> None:
        names = [e.intent for e in data.examples]
        self.classes = sorted(set(names))
        index = {name: i for i, name in enumerate(self.classes)}
        labels = np.array([index[n] for n in names], dtype=np.int64)
        features = to_csr(messages)
        if len(self.classes) < 2:
            raise ValueError("intent classification needs at least two intents")
        self._platt = self._calibrate(features, labels)
        coef, self._intercept = self._fit(features, labels)
        self._coef_t = np.ascontiguousarray(coef.T, dtype=np.float32)

    def _calibrate(self, features: sp.csr_matrix, labels: NDArray[np.int64]) -> tuple[float, float]:
        """Fit the pooled sigmoid on scores of models that did not see the message."""
        from sklearn.model_selection import KFold, StratifiedKFold

        folds = self.options.calibration_folds
        counts = np.bincount(labels)
        if folds < 2 or len(labels) < 2 * folds:
            return (1.0, 0.0)
        if counts.min() >= folds:
            splitter: StratifiedKFold | KFold = StratifiedKFold(
                folds, shuffle=True, random_state=self.options.random_state
            )
        else:
            splitter = KFold(folds, shuffle=True, random_state=self.options.random_state)
        scores = np.zeros((len(labels), len(self.classes)))
        for train_idx, test_idx in splitter.split(features, labels):
            coef, intercept = self._fit(features[train_idx], labels[train_idx])
            fold = features[test_idx] @ coef.T + intercept
            # An intent with fewer examples than folds is missing from some folds' training:
            # its placeholder score (-1e3) says nothing about confidence, so it is left out
            # of the fit (kept in, it flattened the sigmoid to ~1/K for every intent).
            fold[:, np.isin(np.arange(len(self.classes)), labels[train_idx], invert=True)] = np.nan
            scores[test_idx] = fold
        return _pooled_platt(scores, labels, self.options.random_state)

    def confidences(self, features: sp.csr_matrix) -> NDArray[np.float64]:
        return self._sigmoid(np.asarray(features @ self._coef_t) + self._intercept)

    def _sigmoid(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        a, b = self._platt
        return np.asarray(1.0 / (1.0 + np.exp(-(a * scores + b))), dtype=np.float64)

    def _rank(self, message: Message, confidences: NDArray[np.float64]) -> None:
        top_n = min(self.options.ranking_length, len(self.classes))
        order = np.argsort(-confidences)[:top_n]
        message.ranking = [IntentScore(self.classes[i], float(confidences[i])) for i in order]
        message.intent = message.ranking[0] if message.ranking else None

    def process(self, message: Message) -> None:
        indices, values = flatten(message)
        scores = values @ self._coef_t[indices] + self._intercept
        self._rank(message, self._sigmoid(scores))

    def process_batch(self, messages: list[Message]) -> None:
        if not messages:
            return
        for message, row in zip(messages, self.confidences(to_csr(messages)), strict=True):
            self._rank(message, row)

    def persist(self, directory: Path) -> None:
        write_json(directory / "classifier.json", {"classes": self.classes, "platt": list(self._platt)})
        write_array(directory / "coef_t.npy", self._coef_t)
        write_array(directory / "intercept.npy", self._intercept)

    def load(self, directory: Path) -> None:
        meta = read_json(directory / "classifier.json")
        self.classes = list(meta["classes"])
        self._platt = (float(meta["platt"][0]), float(meta["platt"][1]))
        self._coef_t = read_array(directory / "coef_t.npy")
        self._intercept = read_array(directory / "intercept.npy")


NEGATIVES_PER_POSITIVE = 20


def _pooled_platt(scores: NDArray[np.float64], labels: NDArray[np.int64], seed: int) -> tuple[float, float]:
    """One sigmoid for all intents: P(intent c is right | its score), from out-of-fold scores.

    Negatives are subsampled (20 per positive, weighted back up): with 150 intents the
    pooled set would otherwise be 150 times the data for no better fit.
    """
    from sklearn.linear_model import LogisticRegression

    n, k = scores.shape
    truth = np.zeros((n, k), dtype=bool)
    truth[np.arange(n), labels] = True
    flat_scores, flat_truth = scores.ravel(), truth.ravel()
    known = np.isfinite(flat_scores)  # NaN: the intent was not in that fold's training
    positives = np.flatnonzero(flat_truth & known)
    negatives = np.flatnonzero(~flat_truth & known)
    all_negatives = len(negatives)
    kept = min(all_negatives, NEGATIVES_PER_POSITIVE * len(positives))
    negatives = np.random.RandomState(seed).choice(negatives, kept, replace=False)
    rows = np.concatenate([positives, negatives])
    weights = np.where(flat_truth[rows], 1.0, all_negatives / max(kept, 1))
    platt = LogisticRegression(C=1e4, max_iter=1000)
    platt.fit(flat_scores[rows].reshape(-1, 1), flat_truth[rows], sample_weight=weights)
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])
