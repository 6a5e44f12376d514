"""LinearIntentClassifier: a linear model over the feature blocks, calibrated.

Confidences are probabilities normalised across intents: a softmax of the one-vs-rest
scores with one temperature fitted on *out-of-fold* scores (k-fold, the negative
log-likelihood of the right intent). They sum to 1 over the intents, so two intents
at 0.5 and 0.45 really compete and one at 0.97 leaves nothing to the others; and the
top confidence estimates how often the top intent is right (the expected calibration
error is reported by ``botdesk nlu evaluate``). Earlier botdesk used one sigmoid per
intent (Platt scaling): two intents could both score 0.99, and "ambiguous" then
meant nothing.

Training also leaves the out-of-fold ranking on every training message, so the
``FallbackClassifier`` after it can choose its threshold for a target precision from
predictions the model did not train on.
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
    """Folds of the out-of-fold scores the temperature is fitted on (fewer than 2: none)."""
    max_iter: int = 5000
    ranking_length: int = RANKING_LENGTH
    shipped_share: float = 3.0
    """Examples that ship with botdesk (the general off-topic set) weigh together at most
    this many times a median intent of the bot's own: a bot with 5 examples per intent is
    not drowned by hundreds of off-topic lines."""
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
        self._temperature = DEFAULT_SCALE
        self._weights: NDArray[np.float64] | None = None

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
        self, features: sp.csr_matrix, labels: NDArray[np.int64], weights: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fit and return (coef [K x D], intercept [K]) over *all* classes."""
        from sklearn.exceptions import ConvergenceWarning

        estimator = self._estimator()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(features, labels, sample_weight=weights)
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
        self._weights = shipped_weights(data, labels, self.options.shipped_share)
        scores = self._out_of_fold_scores(features, labels)
        if scores is not None:
            self._temperature = fit_scale(scores, labels)
            for message, row in zip(messages, softmax(scores * self._temperature), strict=True):
                self._rank(message, row)  # out-of-fold: what the fallback's threshold is chosen on
        coef, self._intercept = self._fit(features, labels, self._weights)
        self._coef_t = np.ascontiguousarray(coef.T, dtype=np.float32)

    def _out_of_fold_scores(
        self, features: sp.csr_matrix, labels: NDArray[np.int64]
    ) -> NDArray[np.float64] | None:
        """Scores of models that did not see the message (-inf: intent absent from that fold)."""
        from sklearn.model_selection import KFold, StratifiedKFold

        folds = self.options.calibration_folds
        counts = np.bincount(labels)
        if folds < 2 or len(labels) < 2 * folds:
            return None
        if counts.min() >= folds:
            splitter: StratifiedKFold | KFold = StratifiedKFold(
                folds, shuffle=True, random_state=self.options.random_state
            )
        else:
            splitter = KFold(folds, shuffle=True, random_state=self.options.random_state)
        scores = np.zeros((len(labels), len(self.classes)))
        for train_idx, test_idx in splitter.split(features, labels):
            weights = None if self._weights is None else self._weights[train_idx]
            coef, intercept = self._fit(features[train_idx], labels[train_idx], weights)
            fold = features[test_idx] @ coef.T + intercept
            # An intent with fewer examples than folds is missing from some folds' training:
            # that fold's model cannot predict it at all.
            fold[:, np.isin(np.arange(len(self.classes)), labels[train_idx], invert=True)] = -np.inf
            scores[test_idx] = fold
        return scores

    def confidences(self, features: sp.csr_matrix) -> NDArray[np.float64]:
        return softmax((np.asarray(features @ self._coef_t) + self._intercept) * self._temperature)

    def _rank(self, message: Message, confidences: NDArray[np.float64]) -> None:
        top_n = min(self.options.ranking_length, len(self.classes))
        order = np.argsort(-confidences)[:top_n]
        message.ranking = [IntentScore(self.classes[i], float(confidences[i])) for i in order]
        message.intent = message.ranking[0] if message.ranking else None

    def process(self, message: Message) -> None:
        indices, values = flatten(message)
        scores = values @ self._coef_t[indices] + self._intercept
        self._rank(message, softmax(scores * self._temperature))

    def process_batch(self, messages: list[Message]) -> None:
        if not messages:
            return
        for message, row in zip(messages, self.confidences(to_csr(messages)), strict=True):
            self._rank(message, row)

    def persist(self, directory: Path) -> None:
        write_json(directory / "classifier.json", {"classes": self.classes, "temperature": self._temperature})
        write_array(directory / "coef_t.npy", self._coef_t)
        write_array(directory / "intercept.npy", self._intercept)

    def load(self, directory: Path) -> None:
        meta = read_json(directory / "classifier.json")
        self.classes = list(meta["classes"])
        self._temperature = float(meta["temperature"])
        self._coef_t = read_array(directory / "coef_t.npy")
        self._intercept = read_array(directory / "intercept.npy")


def shipped_weights(
    data: TrainingData, labels: NDArray[np.int64], share: float
) -> NDArray[np.float64] | None:
    """Sample weights that cap the shipped examples' total (None: nothing shipped)."""
    from bot.nlu.out_of_scope import SOURCE

    shipped = np.array([e.source == SOURCE for e in data.examples], dtype=bool)
    if not shipped.any() or shipped.all():
        return None
    own_counts = np.bincount(labels[~shipped])
    median = float(np.median(own_counts[own_counts > 0]))
    weight = min(1.0, share * median / int(shipped.sum()))
    return np.where(shipped, weight, 1.0)


DEFAULT_SCALE = 5.0
"""Inverse temperature when there is too little data to fit one (scores of a linear SVM
lie around -1..1, so 5 turns a margin of 1 into odds of e^5 against each other intent)."""


def softmax(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Probabilities over the last axis; -inf scores get exactly 0."""
    shifted = scores - np.max(scores, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / np.sum(exp, axis=-1, keepdims=True), dtype=np.float64)


def fit_scale(scores: NDArray[np.float64], labels: NDArray[np.int64]) -> float:
    """The inverse temperature s minimising the log-loss of softmax(s * scores) (temperature scaling).

    One parameter keeps the ranking as the model made it and only decides how sure a
    margin is; Guo et al. 2017 found it the best-calibrating of the simple methods.
    """
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))
    known = np.isfinite(scores[rows, labels])  # the right intent was absent from that fold's training
    scores, labels, rows = scores[known], labels[known], np.arange(int(known.sum()))
    if len(labels) == 0:
        return DEFAULT_SCALE

    def loss(log_scale: float) -> float:
        scaled = scores * np.exp(log_scale)
        top = np.max(scaled, axis=1)
        log_norm = top + np.log(np.sum(np.exp(scaled - top[:, None]), axis=1))
        return float(np.mean(log_norm - scaled[rows, labels]))

    best = minimize_scalar(loss, bounds=(np.log(0.05), np.log(500.0)), method="bounded")
    return float(np.exp(best.x))
