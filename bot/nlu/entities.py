"""Entities without a statistical tagger: regexes, lookup tables, annotated values, synonyms.

RegexEntityExtractor finds ``regex:`` patterns in the raw text and lookup-table or
annotated values on lemmas (so "в Казани" finds the lookup value "Казань").
EntitySynonymMapper then maps surface forms to canonical values ("курьером" -> courier).
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.nlu.base import Component, ComponentOptions, Entity, Message
from bot.nlu.data import TrainingData
from bot.nlu.normalize import lemmatize, squeeze
from bot.nlu.persist import read_json, write_json
from bot.nlu.registry import register_component

MAX_PHRASE_TOKENS = 6


class RegexEntityOptions(ComponentOptions):
    use_regexes: bool = True
    use_lookup_tables: bool = True
    use_annotations: bool = True


@register_component
class RegexEntityExtractor(Component):
    name = "RegexEntityExtractor"
    Options = RegexEntityOptions
    options: RegexEntityOptions

    _patterns: list[tuple[str, re.Pattern[str]]]
    _phrases: dict[tuple[str, ...], tuple[str, str | None]]
    _starts: set[str]

    def train(self, messages: list[Message], data: TrainingData) -> None:
        regexes = data.regexes if self.options.use_regexes else {}
        lookups = dict(data.lookups) if self.options.use_lookup_tables else {}
        annotated: dict[str, list[str]] = {}
        if self.options.use_annotations:
            for example in data.examples:
                for a in example.entities:
                    if a.entity not in regexes:
                        annotated.setdefault(a.entity, []).append(example.text[a.start : a.end])
        self._regexes, self._lookups, self._annotated = regexes, lookups, annotated
        self._build()
        self.process_batch(messages)

    def _build(self) -> None:
        """Index phrases by their lemma sequence; lookup entries are their own canonical value."""
        self._compile(self._regexes)
        self._phrases = {}
        for entity, values in sorted(self._lookups.items()):
            for value in values:
                if key := self._key(value):
                    self._phrases.setdefault(key, (entity, value))
        for entity, values in sorted(self._annotated.items()):
            for value in values:
                if key := self._key(value):
                    self._phrases.setdefault(key, (entity, None))
        # The first lemmas of all phrases: most tokens start none, and are passed over at once.
        self._starts = {key[0] for key in self._phrases}

    def _compile(self, regexes: dict[str, list[str]]) -> None:
        self._patterns = [
            (entity, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE))
            for entity, patterns in sorted(regexes.items())
        ]

    def _key(self, phrase: str) -> tuple[str, ...]:
        """The phrase as the tokenizer's lemmas, so lookups match inflected forms."""
        return tuple(lemmatize(squeeze(w), self.context.language) for w in re.findall(r"\w+", phrase))

    def process(self, message: Message) -> None:
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for entity, pattern in self._patterns:
            for match in pattern.finditer(message.text):
                if match.end() > match.start() and not _overlaps(taken, match.start(), match.end()):
                    found.append(
                        Entity(entity, match.group(), match.start(), match.end(), self.name, match.group())
                    )
                    taken.append((match.start(), match.end()))
        tokens = message.tokens
        i = 0
        while i < len(tokens):
            if tokens[i].lemma not in self._starts:
                i += 1
                continue
            for size in range(min(MAX_PHRASE_TOKENS, len(tokens) - i), 0, -1):
                key = tuple(t.lemma for t in tokens[i : i + size])
                hit = self._phrases.get(key)
                if hit is None:
                    continue
                start, end = tokens[i].start, tokens[i + size - 1].end
                if not _overlaps(taken, start, end):
                    surface = message.text[start:end]
                    found.append(Entity(hit[0], hit[1] or surface, start, end, self.name, surface))
                    taken.append((start, end))
                i += size - 1
                break
            i += 1
        message.entities.extend(sorted(found, key=lambda e: e.start))

    def persist(self, directory: Path) -> None:
        saved = {"regexes": self._regexes, "lookups": self._lookups, "annotated": self._annotated}
        write_json(directory / "entities.json", saved)

    def load(self, directory: Path) -> None:
        saved = read_json(directory / "entities.json")
        self._regexes, self._lookups, self._annotated = saved["regexes"], saved["lookups"], saved["annotated"]
        self._build()


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in spans)


@register_component
class EntitySynonymMapper(Component):
    name = "EntitySynonymMapper"

    _synonyms: dict[str, str]

    def train(self, messages: list[Message], data: TrainingData) -> None:
        synonyms = dict(data.synonyms)
        for example in data.examples:
            for a in example.entities:
                surface = example.text[a.start : a.end]
                if a.value != surface:
                    synonyms[surface.lower()] = a.value
        self._synonyms = {}
        for surface, value in synonyms.items():
            self._synonyms[surface] = value
            self._synonyms.setdefault(self._lemmas(surface), value)
        self.process_batch(messages)

    def _lemmas(self, text: str) -> str:
        return " ".join(lemmatize(squeeze(w), self.context.language) for w in re.findall(r"\w+", text))

    def process(self, message: Message) -> None:
        for entity in message.entities:
            value = self._synonyms.get(entity.value.lower()) or self._synonyms.get(self._lemmas(entity.value))
            if value is not None and value != entity.value:
                entity.value = value
                entity.processors.append(self.name)

    def persist(self, directory: Path) -> None:
        write_json(directory / "synonyms.json", self._synonyms)

    def load(self, directory: Path) -> None:
        self._synonyms = dict(read_json(directory / "synonyms.json"))
