"""FallbackClassifier: say "I am not sure" instead of guessing, and never answer off-topic.

The message gets intent ``nlu_fallback`` with a ``fallback_reason``:

- ``out_of_scope``: the top intent is the out-of-scope intent (``out_of_scope``, trained
  from botdesk's general off-topic set and the editors' "not ours" messages): the shop
  does not answer this, whatever the confidence;
- ``ambiguous``: two intents really compete — the confidences are normalised across
  intents, and the top two are closer than ``ambiguity_threshold``, or the top one is
  under the threshold while the top two together reach it and the second has at least
  half the first's confidence (it is one of these two, and a "did you mean" can ask);
- ``low_confidence``: the top confidence is under the threshold (an intent may set its own).

The threshold is chosen for a target precision unless given: the classifier before
this component leaves each training message's out-of-fold ranking, and training picks
the lowest threshold at which the answers the bot would give alone on those messages
are right at least ``target_precision`` of the time (between ``min_threshold`` and
``max_threshold``). The original ranking is kept, so the dialogue and the editor
inbox still see what the bot thought.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from bot.nlu.base import (
    FALLBACK_INTENT,
    Component,
    ComponentOptions,
    IntentScore,
    Message,
    PipelineContext,
)
from bot.nlu.data import TrainingData
from bot.nlu.out_of_scope import with_offtopic
from bot.nlu.persist import read_json, write_json
from bot.nlu.registry import register_component

OUT_OF_SCOPE_INTENT = "out_of_scope"
DEFAULT_THRESHOLD = 0.5
THRESHOLD_GRID = 0.01


class FallbackOptions(ComponentOptions):
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """A fixed threshold; leave it out to have it chosen for ``target_precision`` at training."""
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0)
    min_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Never answer alone when the top intent is more likely wrong than right (calibrated)."""
    max_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    ambiguity_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    intent_thresholds: dict[str, float] = Field(default_factory=dict)
    out_of_scope_intent: str = Field(default=OUT_OF_SCOPE_INTENT, max_length=100)
    out_of_scope_examples: Literal["builtin", "none"] = "builtin"
    """builtin: train the out-of-scope intent on botdesk's general off-topic set for the
    bot's language too (bot/nlu/offtopic/); none: only on the bot's own examples."""


def fallback_reason(message: Message, options: FallbackOptions, threshold: float | None = None) -> str | None:
    if not message.ranking:
        return "no_intent"
    top = message.ranking[0]
    if top.name == options.out_of_scope_intent:
        return "out_of_scope"
    base = threshold if threshold is not None else (options.threshold or DEFAULT_THRESHOLD)
    limit = options.intent_thresholds.get(top.name, base)
    second = message.ranking[1] if len(message.ranking) > 1 else None
    if second is not None and second.name != options.out_of_scope_intent:
        close = top.confidence - second.confidence < options.ambiguity_threshold
        shared = (
            top.confidence < limit
            and top.confidence + second.confidence >= limit
            and second.confidence * 2 >= top.confidence
        )
        if close or shared:
            return "ambiguous"
    if top.confidence < limit:
        return "low_confidence"
    return None


def threshold_for_precision(gold: list[str], ranked: list[IntentScore], options: FallbackOptions) -> float:
    """The lowest threshold whose answers reach the target precision on out-of-fold rankings."""
    names = np.array([r.name for r in ranked])
    confidence = np.array([r.confidence for r in ranked])
    right = names == np.array(gold)
    answerable = names != options.out_of_scope_intent
    for threshold in np.arange(options.min_threshold, options.max_threshold + 1e-9, THRESHOLD_GRID):
        answered = answerable & (confidence >= threshold)
        if not answered.any() or right[answered].mean() >= options.target_precision:
            return float(round(threshold, 4))
    return options.max_threshold


@register_component
class FallbackClassifier(Component):
    name = "FallbackClassifier"
    Options = FallbackOptions
    options: FallbackOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        self.threshold: float = (
            self.options.threshold if self.options.threshold is not None else DEFAULT_THRESHOLD
        )
        self.chosen_for_precision = False

    def training_data(self, data: TrainingData) -> TrainingData:
        if self.options.out_of_scope_examples == "none":
            return data
        return with_offtopic(data, self.context.language, self.options.out_of_scope_intent)

    def train(self, messages: list[Message], data: TrainingData) -> None:
        if self.options.threshold is None:
            ranked = [
                (e.intent, m.ranking[0]) for e, m in zip(data.examples, messages, strict=True) if m.ranking
            ]
            own = sum(e.intent != self.options.out_of_scope_intent for e in data.examples)
            # Every message ranked out of fold; with an off-topic detector, every in-scope one.
            if ranked and len(ranked) >= own:
                gold, tops = [g for g, _ in ranked], [t for _, t in ranked]
                self.threshold = threshold_for_precision(gold, tops, self.options)
                self.chosen_for_precision = True
        for message in messages:  # the out-of-fold rankings are the classifier's, not answers
            message.ranking, message.intent = [], None

    def process(self, message: Message) -> None:
        reason = fallback_reason(message, self.options, self.threshold)
        message.fallback_reason = reason
        if reason is not None:
            top = message.ranking[0].confidence if message.ranking else 0.0
            message.intent = IntentScore(FALLBACK_INTENT, top)

    def persist(self, directory: Path) -> None:
        write_json(
            directory / "fallback.json",
            {"threshold": self.threshold, "chosen_for_precision": self.chosen_for_precision},
        )

    def load(self, directory: Path) -> None:
        path = directory / "fallback.json"
        if path.is_file():
            meta = read_json(path)
            self.threshold = float(meta["threshold"])
            self.chosen_for_precision = bool(meta["chosen_for_precision"])
