"""Chart geometry for the dashboard: numbers in, bars with coordinates out.

The SVG itself is written by a Jinja2 macro (templates/panel/charts.html) with
autoescaping, so no label can become markup; this module only does the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    shown: str  # the value as the tooltip says it


@dataclass
class BarChart:
    """Vertical bars (``horizontal=False``) or one row per bar with its label on the left."""

    title: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    horizontal: bool = False
    axis_labels: list[tuple[float, str]] = field(default_factory=list)  # (x, text) under vertical bars
    peak: float = 0
    empty: bool = True


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def columns(
    title: str, items: list[tuple[str, float]], *, width: int = 640, height: int = 180, every: int = 1
) -> BarChart:
    """Vertical bars, e.g. dialogues per day or messages per hour; every ``every``-th label is drawn."""
    chart = BarChart(title, width, height)
    if not items:
        return chart
    top, bottom = 16.0, 22.0
    peak = max(v for _, v in items) or 1
    slot = width / len(items)
    gap = min(4.0, slot * 0.2)
    for i, (label, value) in enumerate(items):
        h = (height - top - bottom) * value / peak
        x = i * slot + gap / 2
        chart.bars.append(
            Bar(
                round(x, 1),
                round(height - bottom - h, 1),
                round(slot - gap, 1),
                round(h, 1),
                label,
                value,
                _fmt(value),
            )
        )
        if i % every == 0:
            chart.axis_labels.append((round(x + (slot - gap) / 2, 1), label))
    chart.peak = peak
    chart.empty = not any(v for _, v in items)
    return chart


def rows(
    title: str, items: list[tuple[str, float]], *, width: int = 420, row: int = 26, label_width: int = 150
) -> BarChart:
    """Horizontal bars with their labels, e.g. handoff reasons."""
    chart = BarChart(title, width, max(row, row * len(items)), horizontal=True)
    if not items:
        return chart
    peak = max(v for _, v in items) or 1
    room = width - label_width - 48
    for i, (label, value) in enumerate(items):
        w = room * value / peak
        chart.bars.append(Bar(label_width, i * row + 4, round(w, 1), row - 8, label, value, _fmt(value)))
    chart.peak = peak
    chart.empty = not any(v for _, v in items)
    return chart
