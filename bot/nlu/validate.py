"""``botdesk data validate``: problems in the training data, before they reach a model."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Set
from dataclasses import dataclass
from typing import Literal

from bot.nlu.data import TrainingData
from bot.settings import BotdeskConfig

MIN_EXAMPLES_ERROR = 2


@dataclass(frozen=True)
class Problem:
    level: Literal["error", "warning"]
    where: str
    message: str


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower().replace("ё", "е")))


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line is not None else source


def validate_data(
    data: TrainingData,
    config: BotdeskConfig,
    min_examples: int = 10,
    used_elsewhere: Set[str] = frozenset(),
    answered_by_flows: Set[str] = frozenset(),
) -> list[Problem]:
    """``used_elsewhere``: responses that stories or the dialogue engine say, not an intent;
    ``answered_by_flows``: intents a rule or story answers, so they need no utter_<intent>."""
    problems: list[Problem] = []
    seen: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for example in data.examples:
        seen[_key(example.text)].append((example.intent, _where(example.source, example.line)))
    for text, places in seen.items():
        intents = sorted({intent for intent, _ in places})
        if len(intents) > 1:
            where = ", ".join(f"{w} ({i})" for i, w in places)
            problems.append(
                Problem(
                    "error",
                    places[0][1],
                    f"the same example {text!r} is under {len(intents)} intents: {where}",
                )
            )
        elif len(places) > 1:
            problems.append(
                Problem("warning", places[1][1], f"example {text!r} repeats (first at {places[0][1]})")
            )

    counts: dict[str, int] = defaultdict(int)
    first_place: dict[str, str] = {}
    for example in data.examples:
        counts[example.intent] += 1
        first_place.setdefault(example.intent, _where(example.source, example.line))
    for intent, n in sorted(counts.items()):
        if n < MIN_EXAMPLES_ERROR:
            problems.append(
                Problem(
                    "error",
                    first_place[intent],
                    f"intent '{intent}' has {n} example; "
                    f"at least {MIN_EXAMPLES_ERROR} are needed to learn it",
                )
            )
        elif n < min_examples:
            problems.append(
                Problem(
                    "warning",
                    first_place[intent],
                    f"intent '{intent}' has only {n} examples; {min_examples}+ varied ones make it reliable",
                )
            )
        if f"utter_{intent}" not in data.responses and intent not in answered_by_flows:
            problems.append(
                Problem(
                    "error",
                    first_place[intent],
                    f"intent '{intent}' has no answer: add responses: utter_{intent}",
                )
            )

    for response in sorted(data.responses):
        if response in used_elsewhere or response.startswith(("utter_ask_", "utter_invalid_")):
            continue
        if response.startswith("utter_") and response[len("utter_") :] not in counts:
            problems.append(
                Problem(
                    "warning",
                    "responses",
                    f"response '{response}' is never used: no intent '{response[len('utter_') :]}'",
                )
            )

    known_entities = data.declared_entities | set(data.regexes) | set(data.lookups)
    for example in data.examples:
        for annotation in example.entities:
            if annotation.entity not in known_entities:
                problems.append(
                    Problem(
                        "error",
                        _where(example.source, example.line),
                        f"unknown entity '{annotation.entity}': "
                        "declare it under 'entities:' or add a regex/lookup for it",
                    )
                )

    for role, names in (
        ("human_only", config.intents.human_only),
        ("buying_interest", config.intents.buying_interest),
    ):
        for name in names:
            if name not in counts:
                problems.append(
                    Problem(
                        "error",
                        "config.yml",
                        f"intents.{role} names '{name}', which is not an intent in intents/",
                    )
                )
    return problems
