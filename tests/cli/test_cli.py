"""The botdesk command line, driven the way a user drives it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import main
from bot.project import Project
from tests.helpers.projects import REPO, write


def run_cli(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import run; run()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_init_creates_a_project_that_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "shop"
    assert main(["init", str(target)]) == 0
    assert (target / "config.yml").is_file() and len(list((target / "intents").glob("*.yml"))) >= 7
    assert main(["init", str(target)]) == 2
    assert "already holds a botdesk project" in capsys.readouterr().err
    assert main(["train", "--project", str(target)]) == 0
    assert "Trained model" in capsys.readouterr().out
    assert main(["train", "--project", str(target)]) == 0
    assert "up to date" in capsys.readouterr().out
    # Its test stories pass at once: the order lookups go to the bundled shop stub.
    assert main(["test", "--project", str(target)]) == 0
    out = capsys.readouterr().out
    assert "bundled shop stub" in out and "PASS order status" in out and " 0 failed" in out


def test_init_english_makes_test_stories_that_pass(
    tmp_path: Path, trained_en: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "en"
    assert main(["init", str(target), "--language", "en"]) == 0
    assert Project.open(target).config.language == "en"
    assert list((target / "tests").glob("test_*.yml")), "botdesk test needs tests/test_*.yml"
    shutil.copytree(trained_en.root / "models", target / "models")  # the same data: no retraining
    assert main(["test", "--project", str(target)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and " 0 failed" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"botdesk {__version__}"


def test_parse_reads_stdin_and_writes_json_lines(trained_ru: Project) -> None:
    messages = ["привет", "сколько стоит доставка", "", "zxcv qwer asdf"]
    result = run_cli("nlu", "parse", "--project", str(trained_ru.root), stdin="\n".join(messages) + "\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["привет", "сколько стоит доставка", "zxcv qwer asdf"]
    assert lines[0]["intent"]["name"] == "greet"
    assert lines[1]["intent"]["name"] == "delivery_terms"
    assert lines[2]["intent"]["name"] == "nlu_fallback" and lines[2]["fallback_reason"] == "out_of_scope"
    assert all({"text", "intent", "intent_ranking", "entities"} <= set(line) for line in lines)


def test_parse_one_message_as_json(trained_ru: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nlu", "parse", "где заказ 1234567", "--json", "--project", str(trained_ru.root)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["intent"]["name"] == "order_status"
    assert result["entities"][0]["entity"] == "order_number"


def test_parse_without_model_says_train(ru_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nlu", "parse", "привет", "--project", str(ru_project.root)]) == 2
    assert "botdesk train" in capsys.readouterr().err


def test_data_validate_default_bot_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", "--project", str(REPO)]) == 0
    assert "0 errors" in capsys.readouterr().out


def test_data_validate_finds_problems(ru_project: Project) -> None:
    intents = ru_project.intents_dir
    write(
        intents / "zz_bad.yml",
        """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - сколько стоит доставка
- intent: lonely
  examples: |
    - одинокий пример
    - про [что-то](mystery_entity)
responses:
  utter_unused_thing:
  - text: "никто не спросит"
""",
    )
    result = run_cli("data", "validate", "--project", str(ru_project.root))
    assert result.returncode == 1
    out = result.stdout
    assert "under 2 intents" in out and "zz_bad.yml:5" in out
    assert "intent 'lonely' has no answer" in out
    assert "only 2 examples" in out
    assert "unknown entity 'mystery_entity'" in out
    assert "response 'utter_unused_thing' is never used" in out


def test_evaluate_cross_validation_json(
    trained_ru: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "nlu",
            "evaluate",
            "--project",
            str(trained_ru.root),
            "--json",
            "--folds",
            "3",
            "--target-precision",
            "0.95",
            "--report",
            str(tmp_path / "report"),
        ]
    )
    assert code == 0
    headline = json.loads(capsys.readouterr().out)
    assert set(headline) >= {
        "accuracy",
        "macro_f1",
        "oos_recall",
        "oos_precision",
        "threshold",
        "train_seconds",
    }
    assert headline["accuracy"] >= 0.9
    report = (tmp_path / "report" / "nlu_report.md").read_text(encoding="utf-8")
    assert "Most confused pairs" in report and "Precision and coverage" in report
    assert (tmp_path / "report" / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_external_data_with_oos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    intents = {
        "greet": ["hello", "hi there", "good morning", "hey", "hello friend", "hi bot", "hey hello"],
        "bye": ["bye", "goodbye", "see you", "bye bye", "see you later", "farewell", "good night"],
        "price": [
            "how much",
            "what is the price",
            "price please",
            "how much is it",
            "cost?",
            "what does it cost",
            "pricing",
        ],
    }
    train = [{"text": t, "intent": i} for i, texts in intents.items() for t in texts[:5]]
    train.append({"text": "oos line dropped from training", "intent": "oos"})
    test = [{"text": t, "intent": i} for i, texts in intents.items() for t in texts[5:]]
    oos = ["quantum chromodynamics lecture", "plant a tree in spring", "zzzz"]
    test += [{"text": t, "intent": "oos"} for t in oos]
    valid = test
    for name, rows in (("train", train), ("test", test), ("valid", valid)):
        write(tmp_path / f"{name}.jsonl", "\n".join(json.dumps(r) for r in rows))
    code = main(
        [
            "nlu",
            "evaluate",
            "--train",
            str(tmp_path / "train.jsonl"),
            "--test",
            str(tmp_path / "test.jsonl"),
            "--valid",
            str(tmp_path / "valid.jsonl"),
            "--language",
            "en",
            "--json",
            "--project",
            str(tmp_path),
            "--report",
            str(tmp_path / "rep"),
        ]
    )
    assert code == 0
    headline = json.loads(capsys.readouterr().out)
    assert headline["oos_recall"] is not None and headline["oos_precision"] is not None
    assert headline["accuracy"] >= 0.5
    assert 0.0 <= headline["threshold"] <= 1.0


def test_evaluate_flags_need_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nlu", "evaluate", "--train", str(tmp_path / "x.jsonl"), "--project", str(tmp_path)]) == 2
    assert "--train needs --test" in capsys.readouterr().err


def test_shell_chats_in_russian(trained_ru: Project) -> None:
    result = run_cli(
        "shell", "--project", str(trained_ru.root), stdin="привет\nсколько стоит доставка\nты бот?\n/exit\n"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "🤖 Бот: Здравствуйте" in out
    bot_lines = [line for line in out.splitlines() if line.startswith("🤖 Бот:")]
    assert len(bot_lines) >= 4, out
    assert "delivery_terms" in out and "bot_challenge" in out  # the dimmed NLU line
    assert "Traceback" not in result.stderr


def test_unexpected_errors_are_not_hidden(tmp_path: Path) -> None:
    result = run_cli("nlu", "parse", "x", "--project", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [["nosuchcommand"], ["train", "--bogus"], ["nlu", "evaluate", "--folds", "x"]]
)
def test_usage_errors_are_one_message(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and (
        "No such" in result.stderr or "Invalid value" in result.stderr
    )


def test_shell_customer_and_operator_take_turns(tmp_path: Path) -> None:
    """The whole life of a dialogue through two shells sharing the project's SQLite store."""
    project = tmp_path / "shop"
    assert main(["init", str(project)]) == 0
    config = project / "config.yml"  # the shell runs on the wall clock: operators on duty round the clock
    config.write_text(config.read_text().replace('daily: "09:00-21:00"', 'daily: "00:00-24:00"'))
    first = run_cli("shell", "-p", str(project), "--customer", "ivan", stdin="позовите оператора\n/exit\n")
    assert "handoff (queued for an operator): human_request" in first.stdout
    assert "1-й в очереди" in first.stdout

    unknown = run_cli("shell", "-p", str(project), "--as-operator", "anna", stdin="/exit\n")
    assert unknown.returncode == 2, "an unknown login is not silently made an account"
    assert "no operator account 'anna'" in unknown.stderr and "--create-operator" in unknown.stderr
    operator = run_cli(
        "shell",
        "-p",
        str(project),
        "--as-operator",
        "anna",
        "--create-operator",
        "--name",
        "Анна",
        stdin="/queue\n/claim 1\nЗдравствуйте, я Анна!\n/history\n/bot\n/exit\n",
    )
    assert "created the operator account anna" in operator.stdout
    assert "#1 [human_request, priority 5" in operator.stdout
    assert "ticket #1 is yours" in operator.stdout
    assert "shell customer: позовите оператора" in operator.stdout  # the history, bot part included

    again = run_cli("shell", "-p", str(project), "--customer", "ivan", stdin="нет\n/exit\n")
    out = again.stdout
    assert "Анна (оператор) подключилась к чату." in out  # agrees with a feminine first name
    assert "Анна: Здравствуйте, я Анна!" in out
    assert "Вы снова общаетесь с ботом" in out
    assert "did_not_help" in out, "a 'no' after the operator goes straight back to a person"
