"""Evaluation reports: a Markdown page, a confusion matrix, a reliability diagram and the
precision–coverage curve as pictures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.nlu.evaluate import Evaluation

CURVE_ROWS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
ERRORS_SHOWN = 50  # mistakes listed on the page; all of them go to ERRORS_FILE
ERRORS_FILE = "intent_errors.json"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def markdown(
    evaluation: Evaluation, title: str, picture: str | None, pictures: dict[str, str] | None = None
) -> str:
    e = evaluation
    pictures = pictures or {}
    lines = [
        f"# {title}",
        "",
        f"Protocol: {e.mode}. Messages evaluated: {e.messages}. Fallback threshold: {e.threshold:.3f}"
        + (f" ({e.threshold_source})." if e.threshold_source else "."),
        "",
        "| figure | value |",
        "|---|---|",
        f"| answered and right (in scope; a fallback counts as wrong) | {_pct(e.accuracy)} |",
        f"| top-1 accuracy (ignoring the threshold) | {_pct(e.top1_accuracy)} |",
        f"| macro-F1 | {e.macro_f1:.3f} |",
        f"| coverage (in-scope messages the bot answers alone) | {_pct(e.coverage)} |",
        f"| precision of what the bot answers alone | {_pct(e.precision_answered)} |",
        f"| out-of-scope recall | {_pct(e.oos_recall)} |",
        f"| out-of-scope precision | {_pct(e.oos_precision)} |",
        f"| expected calibration error of the top confidence | {e.ece:.3f} |",
        f"| training time | {e.train_seconds:.2f} s |",
    ]
    if e.target_precision is not None:
        found = "not reachable" if e.target_threshold is None else f"{e.target_threshold:.2f}"
        lines.append(f"| threshold for {_pct(e.target_precision)} precision | {found} |")
    lines += [
        "",
        "## Precision and coverage by fallback threshold",
        "",
        "| threshold | coverage | precision |",
        "|---|---|---|",
    ]
    for point in e.curve:
        if any(abs(point.threshold - t) < 1e-9 for t in CURVE_ROWS):
            lines.append(f"| {point.threshold:.2f} | {_pct(point.coverage)} | {_pct(point.precision)} |")
    if "curve" in pictures:
        lines += ["", f"![precision and coverage by threshold]({pictures['curve']})"]
    lines += [
        "",
        "## Calibration (reliability diagram)",
        "",
        "How often the top intent is right among messages whose top confidence fell in each "
        "range. Calibrated: the two columns agree; ECE is their gap weighted by the messages.",
        "",
        "| confidence | messages | mean confidence | right |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {b.low:.1f}–{b.high:.1f} | {b.count} | {_pct(b.mean_confidence)} | {_pct(b.accuracy)} |"
        for b in e.reliability
    ]
    if "reliability" in pictures:
        lines += ["", f"![reliability diagram]({pictures['reliability']})"]
    lines += ["", "## Most confused pairs (gold → predicted)", ""]
    if e.confused_pairs:
        lines += ["| gold | predicted | count |", "|---|---|---|"]
        lines += [f"| {g} | {p} | {n} |" for g, p, n in e.confused_pairs]
    else:
        lines.append("None.")
    lines += [
        "",
        "## Per intent",
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for row in sorted(e.per_intent, key=lambda r: r["f1"]):
        lines.append(
            f"| {row['intent']} | {row['precision']:.3f} | {row['recall']:.3f} "
            f"| {row['f1']:.3f} | {row['support']} |"
        )
    lines += ["", "## Messages the bot got wrong", ""]
    if e.errors:
        shown = e.errors[:ERRORS_SHOWN]
        lines += [
            f"{len(e.errors)} messages, the surest mistakes first"
            + (f" (the first {len(shown)}; all in {ERRORS_FILE})" if len(shown) < len(e.errors) else "")
            + ". A confident mistake is answered wrongly; one under the threshold goes to the fallback.",
            "",
            "| message | intent | top intent | confidence | the bot |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(m.text)} | {m.gold} | {m.predicted} | {m.confidence:.2f} | {m.answered} |"
            for m in shown
        ]
    else:
        lines.append("None.")
    if picture:
        lines += ["", "## Confusion matrix", "", f"![confusion matrix]({picture})"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A message in a Markdown table cell: one line, pipes escaped, long ones cut."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= 120 else flat[:119] + "…"


def confusion_picture(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = evaluation.confusion.astype(np.float64)
    rows = matrix.sum(axis=1, keepdims=True)
    rows[rows == 0] = 1.0
    normalised = matrix / rows
    n = len(evaluation.labels)
    size = min(max(6.0, n * 0.32), 30.0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    if n <= 60:
        ax.set_xticks(range(n), evaluation.labels, rotation=90, fontsize=8)
        ax.set_yticks(range(n), evaluation.labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Confusion matrix (rows normalised)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_picture(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    bins = evaluation.reliability
    ax.bar(
        [b.low for b in bins],
        [b.accuracy for b in bins],
        width=[b.high - b.low for b in bins],
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="share right",
    )
    ax.plot(
        [b.mean_confidence for b in bins],
        [b.accuracy for b in bins],
        "o-",
        color="darkred",
        label="mean confidence vs right",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top confidence")
    ax.set_ylabel("share of top intents that are right")
    ax.set_title(f"Reliability diagram (ECE {evaluation.ece:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curve_picture(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    thresholds = [p.threshold for p in evaluation.curve]
    ax.plot(thresholds, [p.precision for p in evaluation.curve], label="precision of answers given alone")
    ax.plot(thresholds, [p.coverage for p in evaluation.curve], label="coverage (in scope answered)")
    ax.axvline(
        evaluation.threshold, color="grey", linestyle="--", label=f"threshold {evaluation.threshold:.2f}"
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("fallback threshold")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Precision and coverage by threshold")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(evaluation: Evaluation, directory: Path, title: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    picture = directory / "confusion_matrix.png"
    confusion_picture(evaluation, picture)
    reliability_picture(evaluation, directory / "reliability.png")
    curve_picture(evaluation, directory / "precision_coverage.png")
    report = directory / "nlu_report.md"
    pictures = {"reliability": "reliability.png", "curve": "precision_coverage.png"}
    report.write_text(markdown(evaluation, title, picture.name, pictures), encoding="utf-8")
    errors = [mistake.to_dict() for mistake in evaluation.errors]
    listed = json.dumps(errors, ensure_ascii=False, indent=2)
    (directory / ERRORS_FILE).write_text(listed + "\n", encoding="utf-8")
    return report
