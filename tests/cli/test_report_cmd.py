"""``botdesk demo-data`` and ``botdesk report``: a month of traffic in, the KPIs out."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.kpis import KPI_KEYS

ROOT = Path(__file__).resolve().parents[2]
JANUARY = ("--from", "2000-01-01", "--to", "2000-01-31")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.yml", tmp_path / "config.yml")
    shutil.copytree(ROOT / "intents", tmp_path / "intents")
    return tmp_path


def _report(project: Path, url: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["report", "--project", str(project), "--url", url, *args]) == 0
    return capsys.readouterr().out


def test_demo_data_is_deterministic_and_the_report_has_the_issue_keys(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    week_ago = (
        datetime.now(UTC).astimezone(ZoneInfo("Europe/Moscow")).date() - timedelta(days=8)
    ).isoformat()
    reports = []
    for name in ("a", "b"):
        url = f"sqlite:///{project / name}.db"
        assert main(["demo-data", "--project", str(project), "--url", url, "--days", "7", "--seed", "3"]) == 0
        assert "dialogues" in capsys.readouterr().out
        reports.append(json.loads(_report(project, url, capsys, "--format", "json", "--from", week_ago)))
    first, second = reports
    assert list(first)[: len(KPI_KEYS)] == list(KPI_KEYS)
    assert (
        first["dialogues"] > 50
        and first["handoff_rate"] > 0
        and sum(first["by_hour"]) == first["messages_in"]
    )
    assert first["csat"]["bot"]["answered"] > 0 and first["csat"]["operator"]["answered"] > 0
    drop = ("period",)
    assert {k: v for k, v in first.items() if k not in drop} == {
        k: v for k, v in second.items() if k not in drop
    }


def test_report_in_csv_and_markdown_for_an_empty_store(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{project / 'empty.db'}"
    rows = list(csv.reader(io.StringIO(_report(project, url, capsys, "--format", "csv", *JANUARY))))
    assert rows[0] == ["kpi", "value", "from", "to", "timezone"]
    values = {row[0]: row[1] for row in rows[1:]}
    assert values["dialogues"] == "0" and values["first_response_seconds"] == ""
    assert rows[1][2:] == ["2000-01-01", "2000-01-31", "Europe/Moscow"]
    markdown = _report(project, url, capsys, *JANUARY)
    assert "| Dialogues | 0 |" in markdown and "| Containment | — |" in markdown


def test_a_bad_date_is_one_sentence(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{project / 'x.db'}"
    assert main(["report", "--project", str(project), "--url", url, "--from", "01.11.2026"]) == 2
    err = capsys.readouterr().err
    assert "is not a date; use YYYY-MM-DD" in err and "Traceback" not in err
