"""Confidence means what it says: normalised across intents, calibrated, and a threshold
chosen for a target precision; "ambiguous" only when two intents really compete."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.base import IntentScore, Message
from bot.nlu.classifier import LinearIntentClassifier, fit_scale, softmax
from bot.nlu.evaluate import Predictions, cross_validate, reliability, summarise
from bot.nlu.fallback import FallbackClassifier, FallbackOptions, fallback_reason, threshold_for_precision
from bot.nlu.pipeline import Pipeline
from bot.project import Project


def _message(*ranking: tuple[str, float]) -> Message:
    return Message(text="x", ranking=[IntentScore(n, c) for n, c in ranking])


def test_confidences_sum_to_one_over_the_intents(ru_pipeline: Pipeline) -> None:
    classifier = next(c for c in ru_pipeline.components if isinstance(c, LinearIntentClassifier))
    import scipy.sparse as sp

    messages = [Message(text=t) for t in ("где мой заказ", "какая гарантия на раму", "ну не знаю")]
    for component in ru_pipeline.components:
        if component is classifier:
            break
        component.process_batch(messages)
    from bot.nlu.featurizers import to_csr

    rows = classifier.confidences(sp.csr_matrix(to_csr(messages)))
    # The intents, then out_of_scope (the off-topic detector's probability): one distribution.
    assert rows.shape == (3, len(classifier.classes) + 1) and classifier.names[-1] == "out_of_scope"
    assert np.allclose(rows.sum(axis=1), 1.0)


def test_a_clear_message_leaves_little_to_the_other_intents(ru_pipeline: Pipeline) -> None:
    message = ru_pipeline.parse("подскажите, какие способы оплаты у вас есть")
    assert message.intent is not None and message.intent.name == "payment_methods"
    assert message.ranking[0].confidence > 0.8
    assert sum(s.confidence for s in message.ranking[1:]) < 0.2


def test_two_confident_intents_are_impossible_so_not_ambiguous() -> None:
    options = FallbackOptions(threshold=0.5, ambiguity_threshold=0.1)
    assert fallback_reason(_message(("human_request", 0.9), ("bot_challenge", 0.08)), options) is None
    assert fallback_reason(_message(("discounts", 0.55), ("working_hours", 0.40)), options) is None


def test_ambiguous_only_when_two_intents_compete() -> None:
    options = FallbackOptions(threshold=0.5, ambiguity_threshold=0.1)
    assert fallback_reason(_message(("a", 0.52), ("b", 0.45)), options) == "ambiguous"
    # Under the threshold, but the two together are sure: one of these two (ask which).
    assert fallback_reason(_message(("a", 0.45), ("b", 0.35), ("c", 0.1)), options) == "ambiguous"
    # Under the threshold and spread over many: just unsure.
    assert fallback_reason(_message(("a", 0.3), ("b", 0.1), ("c", 0.1)), options) == "low_confidence"


def test_out_of_scope_falls_back_whatever_its_confidence() -> None:
    options = FallbackOptions(threshold=0.5)
    assert fallback_reason(_message(("out_of_scope", 0.99), ("greet", 0.01)), options) == "out_of_scope"
    # Out of scope second is no competition for the top intent.
    assert fallback_reason(_message(("greet", 0.52), ("out_of_scope", 0.47)), options) is None


def test_threshold_is_the_lowest_reaching_the_target_precision() -> None:
    options = FallbackOptions(target_precision=0.9, min_threshold=0.1, max_threshold=0.9)
    # 10 right answers at 0.9, 5 wrong ones at 0.4, 5 right ones at 0.3.
    tops = [IntentScore("a", 0.9)] * 10 + [IntentScore("b", 0.4)] * 5 + [IntentScore("a", 0.3)] * 5
    gold = ["a"] * 20
    threshold = threshold_for_precision(gold, tops, options)
    assert 0.4 < threshold <= 0.9  # above the wrong answers, as low as possible
    stricter = threshold_for_precision(gold, tops, options.model_copy(update={"target_precision": 0.99}))
    assert stricter >= threshold


def test_training_chooses_the_threshold_for_the_target_precision(ru_project: Project) -> None:
    thresholds = []
    for target in (0.8, 0.99):
        specs = [
            s.model_copy(update={"target_precision": target}) if s.name == "FallbackClassifier" else s
            for s in ru_project.config.pipeline
        ]
        pipeline = Pipeline("ru", specs)
        pipeline.train(ru_project.data)
        fallback = next(c for c in pipeline.components if isinstance(c, FallbackClassifier))
        assert fallback.chosen_for_precision
        thresholds.append(fallback.threshold)
    assert thresholds[0] <= thresholds[1]


def test_temperature_fits_the_evidence() -> None:
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 3, 600)
    scores = rng.normal(0, 1, (600, 3))
    scores[np.arange(600), labels] += 1.0
    fitted = fit_scale(scores, labels)

    # Sharper or flatter than fitted is worse calibrated (higher log-loss).
    def loss(scale: float) -> float:
        p = softmax(scores * scale)
        return float(-np.mean(np.log(p[np.arange(600), labels])))

    assert loss(fitted) <= min(loss(fitted * 3), loss(fitted / 3))


def test_expected_calibration_error() -> None:
    calibrated = Predictions()
    calibrated.extend(["a"] * 8 + ["b"] * 2, ["a"] * 10, [0.8] * 10)
    ece, bins = reliability(calibrated)
    assert ece == pytest.approx(0.0, abs=1e-9)
    assert bins[0].count == 10 and bins[0].accuracy == pytest.approx(0.8)
    overconfident = Predictions()
    overconfident.extend(["a"] * 5 + ["b"] * 5, ["a"] * 10, [0.99] * 10)
    assert reliability(overconfident)[0] == pytest.approx(0.49)


def test_default_bot_is_calibrated_out_of_fold(ru_project: Project) -> None:
    predictions, _ = cross_validate("ru", ru_project.config.pipeline, ru_project.data, folds=3)
    result = summarise("cv", predictions, None, 0.0)
    assert result.ece < 0.08, result.reliability
    assert result.accuracy > 0.9
