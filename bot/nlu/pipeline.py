"""The NLU pipeline: components in config order, trained together, parsed one by one."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.nlu.base import FALLBACK_INTENT, Component, IntentScore, Message, PipelineContext
from bot.nlu.data import TrainingData
from bot.nlu.registry import build_options, component_class
from bot.settings import ComponentSpec

PAYLOAD = re.compile(r"^/([\w\-]+)$")
Progress = Callable[[str, int, int], None]
"""Called as progress(component name, step index, number of steps) before each step."""


def pipeline_fingerprint(language: str, specs: Sequence[ComponentSpec]) -> str:
    payload = {"language": language, "pipeline": [s.model_dump() for s in specs]}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class Pipeline:
    def __init__(self, language: str, specs: Sequence[ComponentSpec]) -> None:
        self.language = language
        self.specs = list(specs)
        context = PipelineContext(language=language)
        self.components: list[Component] = [
            component_class(spec.name)(build_options(spec.name, spec.options()), context)
            for spec in self.specs
        ]
        self.version: str | None = None

    @property
    def fingerprint(self) -> str:
        return pipeline_fingerprint(self.language, self.specs)

    @property
    def intents(self) -> list[str]:
        for component in reversed(self.components):
            classes = getattr(component, "names", None) or getattr(component, "classes", None)
            if classes:  # a classifier's ranking names (its off-topic detector's intent included)
                return list(classes)
        return []

    def train(self, data: TrainingData, progress: Progress | None = None) -> float:
        """Train every component in order; returns the seconds it took."""
        started = time.perf_counter()
        for component in self.components:
            data = component.training_data(data)
        messages = [Message(text=e.text) for e in data.examples]
        for step, component in enumerate(self.components):
            if progress is not None:
                progress(component.name, step, len(self.components))
            component.train(messages, data)
        if progress is not None:
            progress("done", len(self.components), len(self.components))
        return time.perf_counter() - started

    def parse(self, text: str) -> Message:
        """Understand one message; ``/intent_name`` (a button payload) skips the NLU."""
        payload = self.parse_payload(text)
        if payload is not None:
            return payload
        message = Message(text=text, model_version=self.version)
        for component in self.components:
            component.process(message)
        if message.intent is None:
            message.fallback_reason = message.fallback_reason or "no_intent"
        return message

    def parse_payload(self, text: str) -> Message | None:
        match = PAYLOAD.match(text.strip())
        if match is None or match.group(1) not in self.intents:
            return None
        score = IntentScore(match.group(1), 1.0)
        return Message(text=text, intent=score, ranking=[score], model_version=self.version)

    def parse_many(self, texts: Sequence[str], batch_size: int = 512) -> list[Message]:
        """Same results as :meth:`parse`, faster for thousands of texts."""
        result: list[Message] = []
        for offset in range(0, len(texts), batch_size):
            batch = [Message(text=t, model_version=self.version) for t in texts[offset : offset + batch_size]]
            for component in self.components:
                component.process_batch(batch)
            result.extend(batch)
        return result

    def parse_dict(self, text: str) -> dict[str, Any]:
        return self.parse(text).to_parse_dict()

    def persist(self, directory: Path) -> None:
        for index, component in enumerate(self.components):
            target = directory / f"{index:02d}_{component.name}"
            target.mkdir(parents=True, exist_ok=True)
            component.persist(target)

    def load(self, directory: Path) -> None:
        for index, component in enumerate(self.components):
            component.load(directory / f"{index:02d}_{component.name}")


def is_fallback(message: Message) -> bool:
    return message.intent is None or message.intent.name == FALLBACK_INTENT
