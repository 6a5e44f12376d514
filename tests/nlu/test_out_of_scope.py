"""Out of scope is a class of its own: shipped off-topic sets, "not ours", never an FAQ answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.editor.annotate import mark_not_ours
from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.data import TrainingData
from bot.nlu.out_of_scope import builtin_offtopic, shipped_languages, with_offtopic
from bot.nlu.pipeline import Pipeline
from bot.project import Project

# Off-topic messages written for this test: none is in the shipped set.
OFF_TOPIC = [
    "какая будет погода в четверг в самаре",
    "сколько будет восемь умножить на девять",
    "в каком году построили эйфелеву башню",
    "посоветуй сериал про космос",
    "хочу заказать лапшу вок домой",
    "переведи на итальянский доброе утро",
    "за сколько можно продать биткоины",
]


def test_shipped_sets_are_several_hundred_distinct_lines() -> None:
    assert {"ru", "en"} <= set(shipped_languages())
    for language in ("ru", "en"):
        lines = builtin_offtopic(language)
        assert len(lines) >= 250
        assert len({line.lower() for line in lines}) == len(lines)
    assert builtin_offtopic("xx") == ()


def test_the_bots_own_examples_win_over_the_shipped_set() -> None:
    data = TrainingData.from_pairs([("какая завтра погода", "weather_faq"), ("привет", "greet")])
    merged = with_offtopic(data, "ru", "out_of_scope")
    texts = [e.text for e in merged.examples if e.intent == "out_of_scope"]
    assert "какая завтра погода" not in texts and len(texts) > 200
    assert (
        data.examples
        == TrainingData.from_pairs([("какая завтра погода", "weather_faq"), ("привет", "greet")]).examples
    ), "the caller's data is left as it was"


def test_off_topic_is_not_answered_with_an_faq(ru_pipeline: Pipeline) -> None:
    messages = [ru_pipeline.parse(text) for text in OFF_TOPIC]
    not_answered = [m for m in messages if m.intent is not None and m.intent.name == FALLBACK_INTENT]
    assert len(not_answered) >= len(OFF_TOPIC) - 1, [(m.text, m.ranking[0]) for m in messages]
    assert any(m.fallback_reason == "out_of_scope" for m in not_answered)
    out = next(m for m in not_answered if m.fallback_reason == "out_of_scope")
    assert out.ranking[0].name == "out_of_scope", "the ranking keeps what the bot thought"


def test_shop_questions_are_still_answered(ru_pipeline: Pipeline) -> None:
    for text, intent in [
        ("сколько стоит доставка в казань", "delivery_terms"),
        ("где мой заказ", "order_status"),
        ("как вернуть товар", "return_policy"),
    ]:
        message = ru_pipeline.parse(text)
        assert message.intent is not None and message.intent.name == intent, message.ranking[:2]


def test_switched_off_there_is_no_out_of_scope_intent(ru_project: Project) -> None:
    specs = [
        s.model_copy(update={"out_of_scope_examples": "none"}) if s.name == "FallbackClassifier" else s
        for s in ru_project.config.pipeline
    ]
    pipeline = Pipeline("ru", specs)
    pipeline.train(ru_project.data)
    assert "out_of_scope" not in pipeline.intents


def test_a_small_bot_is_not_drowned_by_the_shipped_set() -> None:
    data = TrainingData.from_pairs(
        [
            (t, "refund")
            for t in ("i want a refund", "refund please", "money back", "return my money", "refund it")
        ]
        + [
            (t, "hours")
            for t in ("when are you open", "opening hours", "are you open now", "hours", "open today")
        ]
    )
    from bot.nlu.defaults import default_pipeline

    pipeline = Pipeline("en", default_pipeline())
    pipeline.train(data)
    assert "out_of_scope" in pipeline.intents
    assert pipeline.parse("can i get a refund").ranking[0].name == "refund"
    assert pipeline.parse("are you open on sunday").ranking[0].name == "hours"
    assert pipeline.parse("what is the capital of france").ranking[0].name == "out_of_scope"


def test_not_ours_adds_to_the_intent_and_retraining_uses_it(ru_project: Project) -> None:
    texts = ["сколько лошадиных сил у трактора", "продаете ли вы мотоблоки"]
    result = mark_not_ours(ru_project.intents_dir, texts, "ru")
    assert result.path == ru_project.intents_dir / "out_of_scope.yml"
    assert result.added == texts
    again = mark_not_ours(ru_project.intents_dir, [texts[0], "а мотоциклы есть?"], "ru")
    assert again.added == ["а мотоциклы есть?"] and texts[0] in again.skipped
    project = Project.open(ru_project.root)
    own = [e.text for e in project.data.examples if e.intent == "out_of_scope"]
    assert own == [*texts, "а мотоциклы есть?"]
    assert project.data.responses["utter_out_of_scope"], "a Rasa export needs the intent's answer"
    pipeline = Pipeline("ru", project.config.pipeline)
    pipeline.train(project.data)
    message = pipeline.parse("продаете ли вы мотоблоки")
    assert message.intent is not None and message.intent.name == FALLBACK_INTENT
    assert message.fallback_reason == "out_of_scope"


def test_not_ours_from_the_command_line(ru_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["nlu", "not-ours", "где купить газонокосилку", "--project", str(ru_project.root)])
    assert code == 0
    assert "1 added to out_of_scope" in capsys.readouterr().out
    assert "где купить газонокосилку" in (ru_project.intents_dir / "out_of_scope.yml").read_text(
        encoding="utf-8"
    )


def test_not_ours_reads_stdin(ru_project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("сдаете ли вы гаражи\n\nремонт айфонов\n"))
    assert main(["nlu", "not-ours", "--project", str(ru_project.root)]) == 0
    own = [e.text for e in Project.open(ru_project.root).data.examples if e.intent == "out_of_scope"]
    assert own == ["сдаете ли вы гаражи", "ремонт айфонов"]


def _with_classifier(project: Project, **options: object) -> Pipeline:
    specs = [
        s.model_copy(update=options) if s.name == "LinearIntentClassifier" else s
        for s in project.config.pipeline
    ]
    pipeline = Pipeline("ru", specs)
    pipeline.train(project.data)
    return pipeline


def test_off_topic_detector_joins_the_intents_in_one_distribution(ru_pipeline: Pipeline) -> None:
    # The detector's probability is out_of_scope's; the intents share the rest.
    for text in ("где мой заказ", "какая будет погода в четверг в самаре", "угу"):
        ranking = ru_pipeline.parse(text).ranking
        names = [s.name for s in ranking]
        assert "out_of_scope" in names and len(set(names)) == len(names)
        assert sum(s.confidence for s in ranking) <= 1.0 + 1e-6
        assert ranking == sorted(ranking, key=lambda s: -s.confidence)
    shop = ru_pipeline.parse("где мой заказ").ranking
    assert next(s.confidence for s in shop if s.name == "out_of_scope") < 0.05


def test_the_prior_says_how_often_off_topic_is_expected(ru_project: Project) -> None:
    """More off-topic messages expected: a message is sooner read as off-topic, never the other way."""
    texts = ["как вас найти на карте", "сколько стоит айпад", "ботяра ты что ли", "где мой заказ"]

    def off_topic(pipeline: Pipeline) -> list[float]:
        return [
            next(s.confidence for s in pipeline.parse(t).ranking if s.name == "out_of_scope") for t in texts
        ]

    rare = off_topic(_with_classifier(ru_project, off_topic_prior=0.05))
    often = off_topic(_with_classifier(ru_project, off_topic_prior=0.3))
    assert all(o > r for r, o in zip(rare, often, strict=True)), (rare, often)


def test_off_topic_as_one_more_class_is_still_there(ru_project: Project) -> None:
    pipeline = _with_classifier(ru_project, off_topic="class")
    classifier = next(c for c in pipeline.components if c.name == "LinearIntentClassifier")
    assert "out_of_scope" in classifier.classes  # trained among the intents, as botdesk did before
    message = pipeline.parse("какая будет погода в четверг в самаре")
    assert message.fallback_reason == "out_of_scope"
