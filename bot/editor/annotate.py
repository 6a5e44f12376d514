"""Write labelled messages into ``intents/*.yml``, as an editor would by hand.

Round-trip YAML (ruamel.yaml) keeps every comment, the order of intents and keys, the
quotes and the ``examples: |`` literal blocks, so the change an editor reviews in git
is exactly the added ``- `` lines (and, for a new intent, its block and its answer).
Files are replaced atomically (write aside, then rename): the server never reads half
a file. Callers serialise writes (one editor action at a time).
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from bot.errors import DataError
from bot.i18n.text import Text
from bot.yamlio import load_yaml, write_text_atomically

INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}(\.yml)?$")
MAX_EXAMPLE_CHARS = 500

# The answer of the out-of-scope intent when an editor (or `botdesk nlu not-ours`) creates it.
OUT_OF_SCOPE_ANSWER = {
    "ru": "Это вне моей темы: я отвечаю на вопросы о магазине — заказы, доставка, оплата, возвраты. "
    "Напишите «оператор», и я позову человека.",
    "en": "That is outside what I can help with: I answer questions about the shop — orders, delivery, "
    "payment, returns. Type “operator” to talk to a person.",
}


@dataclass
class WriteResult:
    """What one write did: the file, the examples added, and those left out (and why)."""

    path: Path
    added: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # text -> reason


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never re-wrap a long answer
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def example_line(text: str) -> str:
    """One line of an ``examples`` block: one line, no entity markup, bounded."""
    line = " ".join(text.split())
    # "[...](...)" is Rasa's entity markup: a customer's brackets must not become entities.
    line = line.replace("[", "(").replace("]", ")")
    return line[:MAX_EXAMPLE_CHARS]


def check_intent_name(name: str) -> str:
    if not INTENT_NAME.match(name):
        raise DataError(
            Text(
                "intent name {name!r} is not valid: use lower-case latin letters, digits and _, "
                "starting with a letter (e.g. gift_cards)",
                name=name,
            )
        )
    return name


def check_response(text: str) -> str:
    """An answer the bot can say: braces only as ``{slot}`` placeholders (``{{`` for a brace)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        fields = [""]
    bad = [name for name in fields if not name.isidentifier()]
    if bad:
        raise DataError(
            Text(
                "the answer has a brace that is not a placeholder of a slot; "
                "write two braces for a brace itself"
            )
        )
    return text


def _examples(block: Any) -> list[str]:
    return [line[2:].strip() for line in str(block or "").splitlines() if line.strip().startswith("- ")]


def _key(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


class IntentFiles:
    """The ``intents/`` directory: where each intent lives and which examples exist."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.yml")) if self.directory.is_dir() else []

    def _load(self, path: Path) -> Any:
        load_yaml(path, DataError)  # a missing, huge or broken file: a clear error with the line
        return _yaml().load(path.read_text(encoding="utf-8"))

    def index(self) -> tuple[dict[str, Path], dict[str, str]]:
        """``intent -> file`` and ``normalised example -> intent`` over every file."""
        where: dict[str, Path] = {}
        examples: dict[str, str] = {}
        for path in self.files():
            data = self._load(path)
            for item in (data or {}).get("nlu") or []:
                if isinstance(item, dict) and "intent" in item:
                    where.setdefault(str(item["intent"]), path)
                    for text in _examples(item.get("examples")):
                        examples.setdefault(_key(re.sub(r"\]\([^)]*\)|\[", "", text)), str(item["intent"]))
        return where, examples

    def file_for_new(self, intent: str, file: str | None) -> Path:
        name = file or intent
        if not FILE_NAME.match(name):
            raise DataError(
                Text("file name {name!r} is not valid: e.g. gift_cards.yml, inside intents/", name=name)
            )
        return self.directory / (name if name.endswith(".yml") else f"{name}.yml")

    def add_examples(self, intent: str, texts: Iterable[str]) -> WriteResult:
        """Append ``texts`` to ``intent``'s examples, in the file that defines it."""
        where, known = self.index()
        if intent not in where:
            raise DataError(
                Text(
                    "there is no intent {intent!r} in {folder}/; create it first",
                    intent=intent,
                    folder=self.directory.name,
                )
            )
        path = where[intent]
        result = WriteResult(path)
        lines = self._fresh(texts, intent, known, result)
        if lines:
            data = self._load(path)
            item = next(i for i in data["nlu"] if isinstance(i, dict) and i.get("intent") == intent)
            block = str(item.get("examples") or "")
            if block and not block.endswith("\n"):
                block += "\n"
            item["examples"] = LiteralScalarString(block + "".join(f"- {line}\n" for line in lines))
            self._write(path, data)
        return result

    def add_intent(
        self, intent: str, texts: Sequence[str], response: str | None, file: str | None = None
    ) -> WriteResult:
        """A new intent with ``texts`` as its examples and ``response`` as ``utter_<intent>``."""
        check_intent_name(intent)
        where, known = self.index()
        if intent in where:
            return self.add_examples(intent, texts)
        path = self.file_for_new(intent, file)
        result = WriteResult(path)
        lines = self._fresh(texts, intent, known, result)
        if not lines:
            raise DataError(
                Text(
                    "no new example for intent {intent!r}: {reasons}",
                    intent=intent,
                    reasons="; ".join(result.skipped.values()),
                )
            )
        if path.exists():
            data = self._load(path)
            if not isinstance(data, CommentedMap):
                raise DataError(f"{path.name} is not a mapping of version/nlu/responses")
        else:
            data = CommentedMap()
            data["version"] = DoubleQuotedScalarString("3.1")
            data.yaml_set_start_comment("Intents added from the chat logs on the editor pages.")
        nlu = data.get("nlu")
        if nlu is None:
            nlu = data["nlu"] = CommentedSeq()
        entry = CommentedMap()
        entry["intent"] = intent
        entry["examples"] = LiteralScalarString("".join(f"- {line}\n" for line in lines))
        nlu.append(entry)
        if response and response.strip():
            check_response(response)
            responses = data.get("responses")
            if responses is None:
                responses = data["responses"] = CommentedMap()
            answer = CommentedMap()
            answer["text"] = DoubleQuotedScalarString(response.strip())
            responses[f"utter_{intent}"] = CommentedSeq([answer])
        self._write(path, data)
        return result

    def _fresh(
        self, texts: Iterable[str], intent: str, known: dict[str, str], result: WriteResult
    ) -> list[str]:
        lines: list[str] = []
        for text in texts:
            line = example_line(text)
            key = _key(line)
            if not key:
                result.skipped[text] = "empty"
            elif key in known and known[key] != intent:
                result.skipped[text] = f"already an example of {known[key]}"
            elif key in known or any(_key(done) == key for done in lines):
                result.skipped[text] = "already an example of this intent"
            else:
                lines.append(line)
        result.added = lines
        return lines

    def _write(self, path: Path, data: Any) -> None:
        buffer = io.StringIO()
        _yaml().dump(data, buffer)
        write_text_atomically(path, buffer.getvalue())


def mark_not_ours(
    intents_dir: Path, texts: Sequence[str] | Iterable[str], language: str, intent: str = "out_of_scope"
) -> WriteResult:
    """Add customer messages to the bot's out-of-scope intent in ``intents/`` ("not ours").

    The intent (and its file ``intents/<intent>.yml``, with an answer in the bot's
    language for Rasa exports) is created on first use; texts already in the data are
    skipped, as the editor pages do. Retrain to take effect (``bot.nlu.out_of_scope``).
    """
    answer = OUT_OF_SCOPE_ANSWER.get(language, OUT_OF_SCOPE_ANSWER["en"])
    return IntentFiles(intents_dir).add_intent(intent, list(texts), answer, None)
