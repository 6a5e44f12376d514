"""Out of scope as a class of its own: botdesk's general off-topic sets, and "not ours".

A shop's FAQ bot must not answer "what is the weather tomorrow" with the delivery
terms. The classifier learns an ``out_of_scope`` intent from a general off-topic set
shipped with botdesk (``bot/nlu/offtopic/<language>.txt``: weather, arithmetic, trivia,
chit-chat, other shops' and services' topics, translation requests, crypto, gibberish…,
written for this project) plus the bot's own examples of that intent, which editors
add from the inbox ("not ours", or ``botdesk nlu not-ours``: ``bot.editor.annotate``).
The ``FallbackClassifier`` turns a message whose top intent is out of scope into ``nlu_fallback`` with
``fallback_reason: out_of_scope``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from importlib import resources

from bot.nlu.data import Example, TrainingData

OFFTOPIC_PACKAGE = "bot.nlu"
OFFTOPIC_FOLDER = "offtopic"
SOURCE = "botdesk:offtopic"


@lru_cache(maxsize=8)
def builtin_offtopic(language: str) -> tuple[str, ...]:
    """botdesk's general off-topic messages for ``language`` (empty where none ship)."""
    folder = resources.files(OFFTOPIC_PACKAGE).joinpath(OFFTOPIC_FOLDER)
    path = folder.joinpath(f"{language}.txt")
    if not path.is_file():
        return ()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def shipped_languages() -> list[str]:
    folder = resources.files(OFFTOPIC_PACKAGE).joinpath(OFFTOPIC_FOLDER)
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))


def with_offtopic(data: TrainingData, language: str, intent: str) -> TrainingData:
    """``data`` plus the shipped off-topic set as examples of ``intent`` (the bot's own
    examples of a text win: a message the bot answers is never also off-topic)."""
    own = {e.text.strip().lower() for e in data.examples}
    extra = [
        Example(text=text, intent=intent, source=SOURCE)
        for text in builtin_offtopic(language)
        if text.lower() not in own
    ]
    if not extra:
        return data
    return replace(data, examples=[*data.examples, *extra])
