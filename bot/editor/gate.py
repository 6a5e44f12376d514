"""The evaluation gate: is the candidate model at least as good as the one in service?

Both models are judged on the same messages:

- cross-validation folds over the examples both training sets share (stratified by
  intent, fixed seed): in each fold the service side trains on its own data and the
  candidate on the new data, both without the fold's messages, and both predict them;
- the annotated inbox messages, predicted by the model in service as it runs and by
  the candidate trained on everything.

A prediction counts when the bot would act on it (a fallback is wrong), against the
labels of the new data. The candidate is refused when its accuracy is lower than the
service model's by more than ``max_regression``; per intent it shows what got better
and what got worse.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.i18n.text import Text
from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.data import TrainingData
from bot.nlu.pipeline import Pipeline
from bot.settings import ComponentSpec

Progress = Callable[[str], None]
SHOWN = 20  # messages listed as fixed or broken


@dataclass(frozen=True)
class Side:
    """One model of the comparison: how it is built, what it learns from, and (trained) itself."""

    specs: Sequence[ComponentSpec]
    data: TrainingData
    model: Pipeline


def _key(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _final(pipeline: Pipeline, texts: Sequence[str]) -> list[str]:
    return [m.intent.name if m.intent else FALLBACK_INTENT for m in pipeline.parse_many(texts)]


def _accuracy(correct: int, total: int) -> float:
    return round(correct / total, 4) if total else 1.0


def compare(
    language: str,
    service: Side,
    candidate: Side,
    inbox: Sequence[tuple[str, str]],
    folds: int,
    max_regression: float,
    progress: Progress | None = None,
    seed: int = 42,
) -> dict[str, Any]:
    """The gate report (JSON-ready); ``passed`` says whether publishing is allowed."""
    new_label: dict[str, str] = {}
    new_text: dict[str, str] = {}
    for example in candidate.data.examples:
        new_label.setdefault(_key(example.text), example.intent)
        new_text.setdefault(_key(example.text), example.text)
    old_keys = [_key(e.text) for e in service.data.examples]
    new_keys = [_key(e.text) for e in candidate.data.examples]
    common = list(dict.fromkeys(k for k in old_keys if k in new_label))
    gold: list[str] = []
    texts: list[str] = []
    said: dict[str, list[str]] = {"service": [], "candidate": []}
    labels = [new_label[k] for k in common]
    splits = min(folds, max(Counter(labels).values(), default=0))
    if len(common) >= 2 * folds and splits >= 2:
        from sklearn.model_selection import StratifiedKFold  # slow to import; the server rarely gates

        splitter = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an intent with fewer examples than folds
            parts = list(splitter.split(np.zeros(len(common)), labels))
        for number, (_, test_idx) in enumerate(parts, start=1):
            held = {common[i] for i in test_idx}
            fold_texts = [new_text[common[i]] for i in test_idx]
            for name, side, keys in (("service", service, old_keys), ("candidate", candidate, new_keys)):
                if progress is not None:
                    progress(
                        Text(
                            "gate: fold {number}/{folds}, {side} model",
                            number=number,
                            folds=len(parts),
                            side=name,
                        )
                    )
                model = Pipeline(language, side.specs)
                model.train(side.data.subset([i for i, k in enumerate(keys) if k not in held]))
                said[name].extend(_final(model, fold_texts))
            gold.extend(new_label[common[i]] for i in test_idx)
            texts.extend(fold_texts)
    cv_size = len(gold)
    if inbox:
        if progress is not None:
            progress(Text("gate: annotated inbox messages"))
        inbox_texts = [t for t, _ in inbox]
        said["service"].extend(_final(service.model, inbox_texts))
        said["candidate"].extend(_final(candidate.model, inbox_texts))
        gold.extend(i for _, i in inbox)
        texts.extend(inbox_texts)
    return _report(gold, texts, said, cv_size, splits, max_regression)


def _report(
    gold: list[str],
    texts: list[str],
    said: dict[str, list[str]],
    cv_size: int,
    folds: int,
    max_regression: float,
) -> dict[str, Any]:
    right = {name: [g == p for g, p in zip(gold, said[name], strict=True)] for name in said}
    total = len(gold)
    service_acc = _accuracy(sum(right["service"]), total)
    candidate_acc = _accuracy(sum(right["candidate"]), total)
    per_intent: list[dict[str, Any]] = []
    for intent in sorted(set(gold)):
        idx = [i for i, g in enumerate(gold) if g == intent]
        before = sum(right["service"][i] for i in idx)
        after = sum(right["candidate"][i] for i in idx)
        per_intent.append(
            {
                "intent": intent,
                "support": len(idx),
                "service": _accuracy(before, len(idx)),
                "candidate": _accuracy(after, len(idx)),
                "change": after - before,
            }
        )

    def listed(service_ok: bool) -> list[dict[str, Any]]:
        order = [*range(cv_size, total), *range(cv_size)]  # the inbox messages first
        return [
            {
                "text": texts[i],
                "intent": gold[i],
                "service": said["service"][i],
                "candidate": said["candidate"][i],
                "inbox": i >= cv_size,
            }
            for i in order
            if right["service"][i] == service_ok and right["candidate"][i] != service_ok
        ][:SHOWN]

    delta = round(candidate_acc - service_acc, 4)
    passed = delta >= -max_regression - 1e-9
    return {
        "passed": passed,
        "reason": (
            f"the new model is {'as good or better' if delta >= 0 else 'slightly worse, within the margin'}"
            f" ({candidate_acc:.1%} vs {service_acc:.1%})"
            if passed
            else f"the new model is worse: {candidate_acc:.1%} vs {service_acc:.1%} in service, "
            f"more than the allowed {max_regression:.1%} lower"
        ),
        "service_accuracy": service_acc,
        "candidate_accuracy": candidate_acc,
        "delta": delta,
        "max_regression": max_regression,
        "folds": folds,
        "messages": total,
        "cross_validation_messages": cv_size,
        "inbox_messages": total - cv_size,
        "better": [row for row in per_intent if row["change"] > 0],
        "worse": [row for row in per_intent if row["change"] < 0],
        "per_intent": per_intent,
        "fixed": listed(service_ok=False),
        "broken": listed(service_ok=True),
    }
