"""Typo correction against the training vocabulary, before lemmatisation."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.normalize import is_russian_word
from bot.nlu.pipeline import Pipeline
from bot.nlu.spelling import Speller
from bot.nlu.tokenizer import SpacyTokenizer
from bot.project import Project


def _speller() -> Speller:
    counts = {"доставка": 12, "доставки": 5, "стоит": 9, "сколько": 20, "гарантия": 4, "заказ": 30}
    return Speller(counts, is_russian_word)


def test_a_misspelt_word_becomes_the_training_word() -> None:
    speller = _speller()
    assert speller.correct("даставка") == "доставка"
    assert speller.correct("гарнтия") == "гарантия"
    assert speller.correct("заказ") == "заказ"


def test_real_words_short_words_and_numbers_stay() -> None:
    speller = _speller()
    assert speller.correct("заказать") == "заказать"  # a dictionary word, not a typo of "заказ"
    assert speller.correct("сти") == "сти"  # too short to guess (under 4 letters)
    assert speller.correct("12345") == "12345"
    assert speller.correct("zzzzzzzz") == "zzzzzzzz"  # nothing close


def test_a_long_word_may_have_two_typos_a_short_one_only_one() -> None:
    speller = Speller({"гарантийный": 3, "стоит": 5}, lambda _: False)
    assert speller.correct("горонтийный") == "гарантийный"
    assert speller.correct("стаэт") == "стаэт"


def test_misspelt_content_words_weigh_as_the_words_they_are(ru_pipeline: Pipeline) -> None:
    message = ru_pipeline.parse("скольк стоит даставка в казань")
    assert message.intent is not None and message.intent.name == "delivery_terms", message.ranking[:2]
    assert "доставка" in message.normalized.split()
    tokens = [t.text for t in message.tokens]
    assert "даставка" in tokens, "the token keeps what the customer typed (entity offsets)"


def test_the_vocabulary_survives_saving(trained_ru: Project, tmp_path: Path) -> None:
    pipeline = trained_ru.load_pipeline()
    tokenizer = next(c for c in pipeline.components if isinstance(c, SpacyTokenizer))
    message = pipeline.parse("какая гарнтия на велосипед")
    assert "гарантия" in message.normalized.split()
    assert tokenizer.options.typo_correction


def test_correction_can_be_switched_off(ru_project: Project) -> None:
    specs = [
        s.model_copy(update={"typo_correction": False}) if s.name == "SpacyTokenizer" else s
        for s in ru_project.config.pipeline
    ]
    pipeline = Pipeline("ru", specs)
    pipeline.train(ru_project.data)
    assert "даставка" in pipeline.parse("сколько стоит даставка").normalized.split()
