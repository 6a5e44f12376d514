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

Off-topic messages (botdesk's shipped set, added by the ``FallbackClassifier``, and the
bot's own examples of that intent) are learnt by a **separate detector** by default
(``off_topic: detector``): a binary linear model, in scope against off-topic, calibrated
out of fold like the intents, its probability corrected from the training mix to
``off_topic_prior`` (the share of off-topic messages expected in real chats). The
ranking is the joint distribution: ``P(out_of_scope) = p`` and ``P(intent) = (1 - p) x
P(intent | in scope)``, still summing to 1. As one more class among the intents
(``off_topic: class``, botdesk before), the off-topic set took short or unusual in-scope
messages ("угу", "прив", "по чем ролики") away from their intents: every intent competes
with a class several times its size, and the intents' own fine distinctions are learnt
next to it. The detector compares the off-topic set with *all* in-scope messages
together instead (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from bot.nlu.base import Component, ComponentOptions, IntentScore, Message, PipelineContext
from bot.nlu.data import TrainingData
from bot.nlu.featurizers import flatten, to_csr
from bot.nlu.out_of_scope import SOURCE as SHIPPED_SOURCE
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
    off_topic: Literal["detector", "class"] = "detector"
    """How the off-topic intent is learnt when botdesk's shipped set is trained on: a
    separate in-scope/off-topic detector (the default), or one more class among the intents."""
    off_topic_prior: float = Field(default=0.12, gt=0.0, lt=1.0)
    """The share of real messages expected to be off-topic; the detector's probability is
    corrected from the training mix to it (Bayes' rule on the odds)."""


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
        self.names: list[str] = []  # the ranking's names: the classes, then the off-topic intent
        self.off_topic: str | None = None  # the intent the detector stands for (None: no detector)
        self._detector_coef: NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._detector_intercept = 0.0
        self._detector_scale = DEFAULT_SCALE
        self._odds_factor = 1.0  # training mix -> off_topic_prior

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
        off_topic = next((e.intent for e in data.examples if e.source == SHIPPED_SOURCE), None)
        if self.options.off_topic == "detector" and off_topic is not None:
            self._train_with_detector(messages, data, off_topic)
            return
        self.off_topic = None
        self._train_classes(messages, data)

    def _train_classes(self, messages: list[Message], data: TrainingData) -> None:
        names = [e.intent for e in data.examples]
        self.classes = sorted(set(names))
        self.names = list(self.classes)
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

    def _train_with_detector(self, messages: list[Message], data: TrainingData, off_topic: str) -> None:
        """The intents on the in-scope examples; a binary detector for ``off_topic`` on all."""
        off = np.array([e.intent == off_topic for e in data.examples], dtype=bool)
        own = [i for i, is_off in enumerate(off) if not is_off]
        in_scope = [messages[i] for i in own]
        self._train_classes(in_scope, data.subset(own))
        self.off_topic = off_topic
        self.names = [*self.classes, off_topic]
        features = to_csr(messages)
        classes, self.classes = self.classes, [f"not {off_topic}", off_topic]  # _fit's classes: binary
        try:
            labels = off.astype(np.int64)
            self._weights = None
            detector_scores = self._out_of_fold_scores(features, labels)
            coef, intercept = self._fit(features, labels)
        finally:
            self.classes = classes
        self._detector_coef = np.ascontiguousarray((coef[1] - coef[0]) / 2, dtype=np.float32)
        self._detector_intercept = float(intercept[1] - intercept[0]) / 2
        mix = float(off.mean())
        prior = self.options.off_topic_prior
        self._odds_factor = (prior / (1 - prior)) / (mix / (1 - mix))
        if detector_scores is None:
            for message in messages:
                message.ranking, message.intent = [], None
            return
        self._detector_scale = fit_scale(detector_scores, labels)
        # Out-of-fold rankings for the fallback's threshold, on the in-scope messages only (the
        # intents' out-of-fold ones, left by _train_classes, joined with the detector's
        # out-of-fold probability): the threshold decides how sure an answer must be; what is
        # off-topic the detector decides, for the share of off-topic messages it expects.
        margin = (detector_scores[:, 1] - detector_scores[:, 0]) / 2
        for message, p, is_off in zip(messages, self._off_topic_probability(margin), off, strict=True):
            if is_off:
                message.ranking, message.intent = [], None
            elif message.ranking:
                self._join(message, float(p))

    def _off_topic_probability(self, margin: NDArray[np.float64]) -> NDArray[np.float64]:
        """The detector's calibrated probability, corrected from the training mix to the prior."""
        odds = np.exp(np.clip(2 * self._detector_scale * margin, -50, 50)) * self._odds_factor
        return np.asarray(odds / (1 + odds), dtype=np.float64)

    def _join(self, message: Message, p_off: float) -> None:
        """The in-scope ranking times (1 - p_off), and the off-topic intent with p_off, re-sorted."""
        joint = [IntentScore(s.name, s.confidence * (1 - p_off)) for s in message.ranking]
        joint.append(IntentScore(str(self.off_topic), p_off))
        joint.sort(key=lambda s: -s.confidence)
        message.ranking = joint[: self.options.ranking_length]
        message.intent = message.ranking[0]

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
        """Probabilities over ``names``: the intents, then the off-topic intent when there is a detector."""
        intents = softmax((np.asarray(features @ self._coef_t) + self._intercept) * self._temperature)
        if self.off_topic is None:
            return intents
        margin = np.asarray(features @ self._detector_coef).ravel() + self._detector_intercept
        p_off = self._off_topic_probability(margin)
        return np.column_stack([intents * (1 - p_off)[:, None], p_off])

    def _rank(
        self, message: Message, confidences: NDArray[np.float64], names: list[str] | None = None
    ) -> None:
        names = self.names if names is None else names
        top_n = min(self.options.ranking_length, len(names))
        order = np.argsort(-confidences)[:top_n]
        message.ranking = [IntentScore(names[i], float(confidences[i])) for i in order]
        message.intent = message.ranking[0] if message.ranking else None

    def process(self, message: Message) -> None:
        indices, values = flatten(message)
        scores = values @ self._coef_t[indices] + self._intercept
        intents = softmax(scores * self._temperature)
        if self.off_topic is None:
            self._rank(message, intents)
            return
        margin = float(values @ self._detector_coef[indices]) + self._detector_intercept
        p_off = float(self._off_topic_probability(np.array([margin]))[0])
        self._rank(message, np.append(intents * (1 - p_off), p_off))

    def process_batch(self, messages: list[Message]) -> None:
        if not messages:
            return
        for message, row in zip(messages, self.confidences(to_csr(messages)), strict=True):
            self._rank(message, row)

    def persist(self, directory: Path) -> None:
        meta: dict[str, object] = {"classes": self.classes, "temperature": self._temperature}
        if self.off_topic is not None:
            meta["off_topic"] = {
                "intent": self.off_topic,
                "intercept": self._detector_intercept,
                "scale": self._detector_scale,
                "odds_factor": self._odds_factor,
            }
            write_array(directory / "off_topic_coef.npy", self._detector_coef)
        write_json(directory / "classifier.json", meta)
        write_array(directory / "coef_t.npy", self._coef_t)
        write_array(directory / "intercept.npy", self._intercept)

    def load(self, directory: Path) -> None:
        meta = read_json(directory / "classifier.json")
        self.classes = list(meta["classes"])
        self._temperature = float(meta["temperature"])
        self._coef_t = read_array(directory / "coef_t.npy")
        self._intercept = read_array(directory / "intercept.npy")
        detector = meta.get("off_topic")
        self.off_topic = None
        if isinstance(detector, dict):
            self.off_topic = str(detector["intent"])
            self._detector_intercept = float(detector["intercept"])
            self._detector_scale = float(detector["scale"])
            self._odds_factor = float(detector["odds_factor"])
            self._detector_coef = read_array(directory / "off_topic_coef.npy")
        self.names = [*self.classes, *([self.off_topic] if self.off_topic else [])]


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
