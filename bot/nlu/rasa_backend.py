"""RasaNLU: let a running Rasa server (``POST /model/parse``) be the NLU.

The same project data trains a Rasa model (``botdesk export rasa``); this component
turns Rasa's answer into botdesk's message fields, so a FallbackClassifier after it
and everything downstream work unchanged.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import Field

from bot.errors import NLUError
from bot.nlu.base import Component, ComponentOptions, Entity, IntentScore, Message, PipelineContext
from bot.nlu.data import TrainingData
from bot.nlu.registry import register_component


class RasaNLUOptions(ComponentOptions):
    url: str = "http://127.0.0.1:5005"
    timeout: float = Field(default=5.0, gt=0)
    token_env: str | None = Field(default=None, description="Environment variable holding Rasa's auth token")


@register_component
class RasaNLU(Component):
    name = "RasaNLU"
    Options = RasaNLUOptions
    options: RasaNLUOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        self._client = httpx.Client(base_url=self.options.url.rstrip("/"), timeout=self.options.timeout)

    def train(self, messages: list[Message], data: TrainingData) -> None:
        """Nothing to learn here: the Rasa server holds its own model (``rasa train``)."""

    def _params(self) -> dict[str, str]:
        if self.options.token_env and os.environ.get(self.options.token_env):
            return {"token": os.environ[self.options.token_env]}
        return {}

    def process(self, message: Message) -> None:
        try:
            response = self._client.post("/model/parse", json={"text": message.text}, params=self._params())
        except httpx.HTTPError as exc:
            raise NLUError(f"Rasa server at {self.options.url} is unreachable: {exc}") from None
        if response.status_code != 200:
            raise NLUError(
                f"Rasa server at {self.options.url} answered HTTP {response.status_code} to /model/parse"
            )
        try:
            answer = response.json()
        except ValueError:
            raise NLUError(f"Rasa server at {self.options.url} answered something that is not JSON") from None
        apply_rasa_answer(message, answer, self.name)


def apply_rasa_answer(message: Message, answer: Any, extractor: str) -> None:
    if not isinstance(answer, dict):
        raise NLUError("Rasa's /model/parse answer is not a JSON object")
    ranking = [
        IntentScore(str(item["name"]), float(item.get("confidence", 0.0)))
        for item in answer.get("intent_ranking") or []
        if isinstance(item, dict) and item.get("name")
    ]
    intent = answer.get("intent") or {}
    if not ranking and intent.get("name"):
        ranking = [IntentScore(str(intent["name"]), float(intent.get("confidence", 0.0)))]
    message.ranking = ranking
    message.intent = ranking[0] if ranking else None
    for item in answer.get("entities") or []:
        if isinstance(item, dict) and "entity" in item:
            start, end = int(item.get("start", 0)), int(item.get("end", 0))
            message.entities.append(
                Entity(
                    str(item["entity"]),
                    str(item.get("value", "")),
                    start,
                    end,
                    str(item.get("extractor") or extractor),
                    message.text[start:end],
                )
            )
