"""What flows through the NLU pipeline, and the contract every component keeps.

A component is one module: it declares a ``name`` (what config.yml says), an options
model, and fills in part of a :class:`Message` (tokens, features, intent, entities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot.nlu.data import TrainingData

FALLBACK_INTENT = "nlu_fallback"


class ComponentOptions(BaseModel):
    """Options of a component: unknown keys are errors, like everywhere in config.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(slots=True)
class Token:
    text: str
    start: int
    end: int
    norm: str
    lemma: str


@dataclass(frozen=True, slots=True)
class SparseFeatures:
    """One featurizer's block for one message: a sparse row without scipy's per-call cost."""

    indices: NDArray[np.int64]
    values: NDArray[np.float64]
    size: int


@dataclass(slots=True)
class IntentScore:
    name: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": round(float(self.confidence), 6)}


@dataclass(slots=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    extractor: str
    text: str = ""
    processors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "extractor": self.extractor,
        }
        if self.processors:
            data["processors"] = list(self.processors)
        return data


@dataclass(slots=True)
class Message:
    """One text on its way through the pipeline; components fill the fields in turn."""

    text: str
    normalized: str = ""
    tokens: list[Token] = field(default_factory=list)
    features: list[SparseFeatures] = field(default_factory=list)
    intent: IntentScore | None = None
    ranking: list[IntentScore] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    fallback_reason: str | None = None
    model_version: str | None = None

    def to_parse_dict(self) -> dict[str, Any]:
        """The shape of Rasa's ``/model/parse`` answer, plus botdesk's own fields."""
        intent = self.intent or IntentScore(FALLBACK_INTENT, 0.0)
        data: dict[str, Any] = {
            "text": self.text,
            "intent": intent.to_dict(),
            "entities": [e.to_dict() for e in self.entities],
            "intent_ranking": [s.to_dict() for s in self.ranking],
        }
        if self.fallback_reason is not None:
            data["fallback_reason"] = self.fallback_reason
        if self.model_version is not None:
            data["model_version"] = self.model_version
        return data


@dataclass(frozen=True, slots=True)
class PipelineContext:
    """What every component may know about the pipeline it sits in."""

    language: str


class Component:
    """Base of every NLU component. Override what your component does; the rest is a no-op.

    Contract: ``train`` sees all training messages at once (already processed by the
    components before it); ``process`` handles one message and must be fast (the whole
    default pipeline parses in well under a millisecond); state that ``train`` learns is
    written by ``persist`` and read back by ``load`` in formats that cannot run code
    (JSON, numpy arrays without pickle), so a model directory is safe to load.

    Args:
        options: the validated ``Options`` of this component's config.yml item.
        context: what every component may know about its pipeline (the language).

    Usage (a module in ``bot/nlu/`` plus its name in ``bot/nlu/registry.py``, or a dotted
    path ``mypkg.nlu.Shouting`` in config.yml's ``pipeline``)::

        class ShoutingOptions(ComponentOptions):
            marker: str = "!!!"

        @register_component
        class Shouting(Component):
            name = "Shouting"
            Options = ShoutingOptions
            options: ShoutingOptions

            def process(self, message: Message) -> None:
                if message.text.endswith(self.options.marker):
                    message.entities.append(
                        Entity("tone", "angry", 0, len(message.text), self.name)
                    )
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[ComponentOptions]] = ComponentOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        self.options = options
        self.context = context

    def training_data(self, data: TrainingData) -> TrainingData:
        """What the whole pipeline trains on: a component may add examples (it must not
        change ``data`` itself). Called for every component, in order, before training."""
        return data

    def train(self, messages: list[Message], data: TrainingData) -> None:
        """Learn from the training messages; stateless components need not override.

        Args:
            messages: every training example, as processed by the components before this one;
                a trained component leaves them processed by itself too (the default does).
            data: the whole training data (intents, entities, synonyms, lookups).
        """
        self.process_batch(messages)

    def process(self, message: Message) -> None:
        """Fill in this component's part of one message (tokens, features, intent, entities).

        Args:
            message: the message so far; changed in place.
        """
        raise NotImplementedError

    def process_batch(self, messages: list[Message]) -> None:
        for message in messages:
            self.process(message)

    def persist(self, directory: Path) -> None:
        """Write learned state under ``directory`` (created for this component)."""

    def load(self, directory: Path) -> None:
        """Read what ``persist`` wrote."""
