"""`botdesk test`: the default bot's test stories pass; a wrong story fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.project import Project
from tests.helpers.projects import REPO, write


def test_default_test_stories_pass(
    trained_ru: Project, shop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """All of them, the order-status stories against the shop stub included."""
    code = main(["test", "--project", str(trained_ru.root), str(REPO / "tests" / "test_stories.yml")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 failed" in out and "FAIL" not in out
    assert "PASS order status at night, answered from the shop's API" in out


def test_a_wrong_expectation_fails_with_the_line(
    trained_ru: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = write(
        tmp_path / "test_wrong.yml",
        """\
stories:
- story: expects the wrong answer
  steps:
  - user: |
      сколько стоит доставка
    intent: delivery_terms
  - action: utter_warranty
""",
    )
    assert main(["test", "--project", str(trained_ru.root), str(story)]) == 1
    out = capsys.readouterr().out
    assert "FAIL expects the wrong answer" in out
    assert "line 4" in out and "utter_warranty" in out and "utter_delivery_terms" in out
    assert "0 passed, 1 failed" in out


def test_malformed_story_is_a_clear_error(
    trained_ru: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = write(
        tmp_path / "test_bad.yml", "stories:\n- story: no user\n  steps:\n  - action: utter_greet\n"
    )
    assert main(["test", "--project", str(trained_ru.root), str(story)]) == 2
    assert "an action before any user message" in capsys.readouterr().err


def test_operator_step_without_a_handoff_fails_clearly(
    trained_ru: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = write(
        tmp_path / "test_op.yml",
        """\
stories:
- story: an operator out of nowhere
  steps:
  - user: |
      как вернуть товар
  - action: utter_return_policy
  - action: utter_ask_feedback
  - operator: здравствуйте
""",
    )
    assert main(["test", "--project", str(trained_ru.root), str(story)]) == 1
    assert "no dialogue was handed to a person" in capsys.readouterr().out


def test_a_user_step_without_actions_means_silence(
    trained_ru: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = write(
        tmp_path / "test_silent.yml",
        "stories:\n- story: expects silence\n  steps:\n  - user: |\n      привет\n",
    )
    assert main(["test", "--project", str(trained_ru.root), str(story)]) == 1
    assert "expected []" in capsys.readouterr().out
