"""Evaluation reports: a Markdown page and a confusion-matrix picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.nlu.evaluate import Evaluation

CURVE_ROWS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def markdown(evaluation: Evaluation, title: str, picture: str | None) -> str:
    e = evaluation
    lines = [
        f"# {title}",
        "",
        f"Protocol: {e.mode}. Messages evaluated: {e.messages}. Fallback threshold: {e.threshold:.3f}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| accuracy (in scope, a fallback counts as wrong) | {_pct(e.accuracy)} |",
        f"| top-1 accuracy (ignoring the threshold) | {_pct(e.top1_accuracy)} |",
        f"| macro-F1 | {e.macro_f1:.3f} |",
        f"| coverage (in-scope messages the bot answers alone) | {_pct(e.coverage)} |",
        f"| precision of what the bot answers alone | {_pct(e.precision_answered)} |",
        f"| out-of-scope recall | {_pct(e.oos_recall)} |",
        f"| out-of-scope precision | {_pct(e.oos_precision)} |",
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
    if picture:
        lines += ["", "## Confusion matrix", "", f"![confusion matrix]({picture})"]
    return "\n".join(lines) + "\n"


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


def write_report(evaluation: Evaluation, directory: Path, title: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    picture = directory / "confusion_matrix.png"
    confusion_picture(evaluation, picture)
    report = directory / "nlu_report.md"
    report.write_text(markdown(evaluation, title, picture.name), encoding="utf-8")
    return report
