"""``botdesk nlu evaluate``: a held-out share of the project's data, and the project's model on a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.project import Project


def test_holdout_reports_the_headline_and_calibration(
    ru_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["nlu", "evaluate", "--holdout", "0.2", "--json", "--project", str(ru_project.root)]
    assert main([*args, "--report", str(tmp_path / "rep")]) == 0
    headline = json.loads(capsys.readouterr().out)
    held_out = round(len(ru_project.data.examples) * 0.2)
    assert abs(headline["messages"] - held_out) <= 1
    assert headline["answered_and_right"] > 0.85 and headline["coverage"] >= headline["answered_and_right"]
    assert 0.0 <= headline["ece"] < 0.1
    report = (tmp_path / "rep" / "nlu_report.md").read_text(encoding="utf-8")
    assert "reliability diagram" in report and "reliability.png" in report
    assert (tmp_path / "rep" / "reliability.png").stat().st_size > 0
    assert (tmp_path / "rep" / "precision_coverage.png").stat().st_size > 0


def test_the_projects_model_on_new_phrasings(
    ru_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"text": "подскажите, когда откроется магазин в субботу", "intent": "working_hours"},
        {"text": "хочу сдать обратно неподошедший шлем", "intent": "return_policy"},
        {"text": "какая столица у бразилии", "intent": "oos"},
        {"text": "посоветуй рецепт пирога с яблоками", "intent": "out_of_scope"},
    ]
    test = tmp_path / "new.jsonl"
    test.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    args = ["nlu", "evaluate", "--test", str(test), "--json", "--project", str(ru_project.root)]
    assert main([*args, "--report", str(tmp_path / "rep")]) == 0
    headline = json.loads(capsys.readouterr().out)
    assert headline["messages"] == 4
    assert headline["oos_recall"] == 1.0, "both off-topic lines (oos and out_of_scope) fall back"
    assert headline["answered_and_right"] >= 0.5


def test_the_report_lists_the_messages_the_bot_got_wrong(ru_project: Project, tmp_path: Path) -> None:
    lines = [
        {"text": "во сколько вы открываетесь в субботу", "intent": "working_hours"},  # answered right
        {"text": "во сколько вы открываетесь в субботу", "intent": "return_policy"},  # mislabelled
        {"text": "какая столица у бразилии", "intent": "greet"},  # off-topic: falls back, so wrong here
    ]
    test = tmp_path / "new.jsonl"
    test.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    args = ["nlu", "evaluate", "--test", str(test), "--project", str(ru_project.root)]
    assert main([*args, "--report", str(tmp_path / "rep")]) == 0
    errors = json.loads((tmp_path / "rep" / "intent_errors.json").read_text(encoding="utf-8"))
    wrong = {(e["text"], e["intent"]): e for e in errors}
    assert set(wrong) == {
        ("во сколько вы открываетесь в субботу", "return_policy"),
        ("какая столица у бразилии", "greet"),
    }
    hours = wrong["во сколько вы открываетесь в субботу", "return_policy"]
    assert hours["intent_prediction"]["name"] == "working_hours" and hours["answered"] == "working_hours"
    assert wrong["какая столица у бразилии", "greet"]["answered"] == "nlu_fallback"
    confidences = [e["intent_prediction"]["confidence"] for e in errors]
    assert confidences == sorted(confidences, reverse=True)  # the surest mistakes first
    report = (tmp_path / "rep" / "nlu_report.md").read_text(encoding="utf-8")
    assert "| во сколько вы открываетесь в субботу | return_policy | working_hours |" in report


def test_holdout_and_test_do_not_go_together(ru_project: Project, tmp_path: Path) -> None:
    test = tmp_path / "t.jsonl"
    test.write_text('{"text": "привет", "intent": "greet"}\n', encoding="utf-8")
    args = ["nlu", "evaluate", "--holdout", "0.2", "--test", str(test), "--project", str(ru_project.root)]
    assert main(args) == 2
