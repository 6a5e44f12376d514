"""Real-size Rasa projects: imported, trained and tested with `botdesk test`, custom actions
running on a real rasa-sdk action server, as they would under Rasa.

``projects/helpdesk`` is an IT help desk in the shape of RasaHQ's helpdesk-assistant
(written for these tests): a form validated on the action server with digressions and a
stop rule, custom actions (responses, buttons, custom payloads, SlotSet, Restarted),
retrieval intents, a conditional response, checkpoint stories, an ``or`` rule, button
payloads with entities and an intent without examples.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.interop.rasa_import import import_rasa
from tests.rasa_sdk import action_server

PROJECTS = Path(__file__).parent / "projects"


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Rasa project (a copy) and its botdesk import, trained."""
    root = tmp_path_factory.mktemp("helpdesk")
    source = shutil.copytree(PROJECTS / "helpdesk", root / "rasa")
    target = root / "botdesk"
    import_rasa(source, target)
    assert main(["train", "--project", str(target)]) == 0
    return source, target


def at(needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` line of the help desk's config.yml containing ``needle``."""
    lines = (PROJECTS / "helpdesk" / "config.yml").read_text().splitlines()
    return [i for i, text in enumerate(lines, start=1) if needle in text][nth]


def test_the_report_lists_exactly_what_differs(tmp_path: Path) -> None:
    """Forms, slots, custom actions, retrieval, conditions, checkpoints: all carried, so the
    report names only the NLU pipeline and the machine-learned policy."""
    result = import_rasa(PROJECTS / "helpdesk", tmp_path / "botdesk")
    selector = (
        "ResponseSelector: botdesk's intent classifier tells retrieval intents (faq/question) apart "
        "itself and answers each with utter_faq/question; there is no separate model"
    )
    assert sorted(str(n) for n in result.notes) == sorted(
        [
            f"config.yml:{at('LexicalSyntactic')}: Rasa-only pipeline component LexicalSyntacticFeaturizer "
            "has no botdesk equivalent and was left out",
            f"config.yml:{at('DIETClassifier')}: DIETClassifier: botdesk classifies intents with "
            "LinearIntentClassifier and finds entities by their annotated values, lookups and regexes, "
            "not learned from context",
            f"config.yml:{at('ResponseSelector', 0)}: {selector}",
            f"config.yml:{at('ResponseSelector', 1)}: {selector}",
            f"config.yml:{at('pipeline:')}: the NLU pipeline is botdesk's default (SpacyTokenizer, "
            "RegexEntityExtractor, CountVectorsFeaturizer word + char_wb, LinearIntentClassifier, "
            "EntitySynonymMapper, FallbackClassifier)",
            f"config.yml:{at('TEDPolicy')}: TEDPolicy is machine-learned: botdesk follows rules and "
            "stories exactly as written and otherwise answers an intent with utter_<intent>; it does not "
            "generalise stories to conversations they do not cover",
        ]
    )


@pytest.mark.slow
def test_helpdesk_test_stories_pass_with_a_real_action_server(
    helpdesk: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = helpdesk
    with action_server(source) as url:
        monkeypatch.setenv("HELPDESK_ACTIONS_URL", url)
        code = main(["test", "--project", str(target)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "16 passed, 0 failed" in out


def test_helpdesk_without_its_action_server_hands_off(
    helpdesk: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action server down: the turn goes to a person ("integration_unavailable"), never silence."""
    _, target = helpdesk
    monkeypatch.setenv("HELPDESK_ACTIONS_URL", "http://127.0.0.1:9/webhook")
    story = target / "tests" / "test_down.yml"
    story.write_text(
        """\
stories:
- story: status while the action server is down
  steps:
  - user: |
      any news on ticket IT-2048?
    intent: ticket_status
  - action: action_handoff
  - action: utter_handoff_queued
  - action: utter_queue_position
""",
        encoding="utf-8",
    )
    try:
        code = main(["test", "--project", str(target), str(story)])
    finally:
        story.unlink()
    assert code == 0, capsys.readouterr().out


@pytest.mark.slow
def test_the_rasa_init_project_passes_its_seven_test_stories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "moodbot"
    assert main(["import", "rasa", str(PROJECTS / "moodbot"), "--to", str(target)]) == 0
    assert main(["train", "--project", str(target)]) == 0
    code = main(["test", "--project", str(target)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "7 passed, 0 failed" in out


@pytest.mark.slow
def test_tablebot_unhappy_paths_and_dynamic_slots_with_a_real_action_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa's formbot shape: explain/stop-or-continue unhappy paths by rules and stories, and
    a validation action that adds a required slot (requested_slot chosen by the action)."""
    source = shutil.copytree(PROJECTS / "tablebot", tmp_path / "rasa")
    target = tmp_path / "botdesk"
    result = import_rasa(source, target)
    assert not [n for n in result.notes if "domain.yml" in n.source or "data/" in n.source]
    assert main(["train", "--project", str(target)]) == 0
    with action_server(source) as url:
        monkeypatch.setenv("TABLEBOT_ACTIONS_URL", url)
        code = main(["test", "--project", str(target)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "8 passed, 0 failed" in out
