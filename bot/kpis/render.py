"""A report as JSON, CSV (one ``kpi,value`` row per number, for spreadsheets) or Markdown."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.kpis.compute import KPI_KEYS

LABELS = {
    "first_response_seconds": "First response (s)",
    "resolution_seconds": "Resolution time (s)",
    "missed": "Missed handoffs",
    "dialogues": "Dialogues",
    "messages_in": "Messages in",
    "messages_out": "Messages out",
    "depth": "Depth (customer messages per dialogue)",
    "containment_rate": "Containment",
    "handoff_rate": "Handoff rate",
    "handoffs": "Handoffs",
    "abandonment_after_fallback": "Abandoned after a fallback",
    "leads": "Leads",
    "callbacks": "Call-backs",
}


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def flatten(report: dict[str, Any]) -> list[tuple[str, Any]]:
    """Headline numbers as (dotted key, value): ``csat.bot.rate``, ``by_hour.09``, ``handoff_reasons.x``."""
    rows: list[tuple[str, Any]] = []
    for key in (*KPI_KEYS, "handoffs", "abandonment_after_fallback_rate"):
        value = report.get(key)
        if key == "by_hour":
            rows.extend((f"by_hour.{hour:02d}", n) for hour, n in enumerate(value or []))
        elif key == "csat":
            for about, stats in (value or {}).items():
                rows.extend((f"csat.{about}.{k}", v) for k, v in stats.items())
        elif isinstance(value, dict):
            rows.extend((f"{key}.{k}", v) for k, v in value.items())
        else:
            rows.append((key, value))
    return rows


def to_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    period = report.get("period", {})
    writer.writerow(["kpi", "value", "from", "to", "timezone"])
    for key, value in flatten(report):
        writer.writerow(
            [
                key,
                "" if value is None else value,
                period.get("from"),
                period.get("to"),
                period.get("timezone"),
            ]
        )
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def to_markdown(report: dict[str, Any]) -> str:
    period = report["period"]
    lines = [f"# botdesk KPIs, {period['from']} – {period['to']} ({period['timezone']})", ""]
    lines += ["| KPI | value |", "|---|---|"]
    for key, label in LABELS.items():
        value = report.get(key)
        shown = _pct(value) if key.endswith("_rate") else _cell(value)
        lines.append(f"| {label} | {shown} |")
    for about, stats in report["csat"].items():
        lines.append(
            f"| CSAT {about} | {_pct(stats['rate'])} of {stats['answered']} answers, "
            f"score {_cell(stats['score'])} |"
        )
    lines += ["", "## Handoff reasons", "", "| reason | handoffs |", "|---|---|"]
    lines += [f"| {_cell(k)} | {v} |" for k, v in report["handoff_reasons"].items()]
    lines += ["", "## Handoffs per intent", ""]
    lines += [
        "| intent | messages | handoffs | after not understood | time to a human (s) | left the queue |"
    ]
    lines += ["|---|---|---|---|---|---|"]
    lines += [
        f"| {_cell(r['intent'])} | {r['messages']} | {r['handoffs']} | {r['after_not_understood']} "
        f"| {_cell(r['time_to_human_seconds'])} | {r['queue_abandoned']} |"
        for r in report["intents"]
    ]
    lines += ["", "## Top unrecognised messages", "", "| message | times |", "|---|---|"]
    lines += [f"| {_cell(r['text'])} | {r['count']} |" for r in report["top_unrecognised"]]
    lines += ["", "## Load by hour", "", "| hour | customer messages |", "|---|---|"]
    lines += [f"| {hour:02d} | {n} |" for hour, n in enumerate(report["by_hour"])]
    return "\n".join(lines) + "\n"


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    return to_markdown(report)
