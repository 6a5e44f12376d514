"""What operators answered by hand, held against the bot's own FAQ answers.

An operator answer that says what an FAQ response says (token-set similarity at or
above a threshold) means "the bot could have answered this": the customer's question
becomes a proposed example of that intent. Any other answer is a candidate answer for
a new intent made from the question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

WORD = re.compile(r"\w+", re.UNICODE)
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class FaqMatch:
    intent: str
    response: str
    similarity: float


def _tokens(text: str) -> set[str]:
    return set(WORD.findall(PLACEHOLDER.sub(" ", text.lower().replace("ё", "е"))))


def token_set_similarity(a: str, b: str) -> float:
    """0..1, order and repetition ignored; a short answer inside a longer one scores high.

    Like the well-known token-set ratio: the shared words compared with each side's
    shared words plus its own extra words, the best of the three comparisons.
    """
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    common = " ".join(sorted(ta & tb))
    only_a = " ".join(sorted(ta - tb))
    only_b = " ".join(sorted(tb - ta))
    left = f"{common} {only_a}".strip()
    right = f"{common} {only_b}".strip()

    def ratio(x: str, y: str) -> float:
        return SequenceMatcher(None, x, y, autojunk=False).ratio() if x and y else 0.0

    # Shared words alone would match any one-word answer: require them to be a real part.
    if len(ta & tb) < min(3, len(ta), len(tb)):
        return ratio(left, right)
    return max(ratio(common, left), ratio(common, right), ratio(left, right))


def faq_answers(responses: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[tuple[str, str]]:
    """``(intent, text)`` for every ``utter_<intent>`` text variant."""
    found = []
    for name, variants in responses.items():
        if not name.startswith("utter_"):
            continue
        for variant in variants:
            text = variant.get("text")
            if isinstance(text, str) and text.strip():
                found.append((name.removeprefix("utter_"), text))
    return found


def match_faq(answer: str, answers: Sequence[tuple[str, str]], threshold: float = 0.8) -> FaqMatch | None:
    """The FAQ answer most like ``answer``, if it reaches ``threshold``."""
    best: FaqMatch | None = None
    for intent, text in answers:
        score = token_set_similarity(answer, text)
        if score >= threshold and (best is None or score > best.similarity):
            best = FaqMatch(intent, text, round(score, 3))
    return best
