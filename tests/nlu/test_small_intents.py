"""A new intent with only a few examples (an editor's first labels) gets confident answers."""

from __future__ import annotations

from pathlib import Path

from bot.editor.annotate import IntentFiles
from bot.nlu.data import intent_files, load_training_data
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from tests.helpers.projects import REPO, copy_project

RENTAL = [
    "у вас есть прокат велосипедов?",
    "прокат велосипедов есть?",
    "есть ли прокат велосипедов на выходные",
    "прокат великов есть? мой телефон <phone>",
]


def test_an_intent_with_fewer_examples_than_calibration_folds_keeps_confidence(tmp_path: Path) -> None:
    project = Project.open(copy_project(REPO, tmp_path / "bot"))
    files = IntentFiles(project.intents_dir)
    files.add_intent("bike_rental", RENTAL, "Да, прокат есть.")
    files.add_intent("out_of_scope", ["какая погода завтра", "расскажи анекдот"], "Это не ко мне.")
    data = load_training_data(intent_files(project.intents_dir))
    pipeline = Pipeline(project.config.language, project.config.pipeline)
    pipeline.train(data)
    rental = pipeline.parse("прокат велосипедов есть?")
    assert rental.intent is not None and rental.intent.name == "bike_rental"
    assert rental.intent.confidence > 0.5
    delivery = pipeline.parse("сколько стоит доставка по Москве?")
    assert delivery.intent is not None and delivery.intent.name == "delivery_terms"
    assert delivery.intent.confidence > 0.5  # the big intents keep their confidence too
