"""Server-rendered SVG bar chart of genre counts: geometry here, markup in ``_genre_chart.html``.

No chart library and no script: the page's chart is plain SVG produced by the template from the
numbers below, so it works offline and without JavaScript, and its labels are autoescaped like any
other text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    y: float
    width: float
    text_y: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]
    total: int


def bar_chart(
    counts: Sequence[tuple[str, int]],
    *,
    width: int = 480,
    label_width: int = 150,
    bar_height: int = 22,
    gap: int = 8,
) -> BarChart:
    """Lay out one horizontal bar per ``(label, count)``, the longest bar for the largest count.

    The bar area is ``width - label_width - 40`` pixels (40 for the count written after each bar).
    """
    area = width - label_width - 40
    top = max((c for _, c in counts), default=0)
    bars = []
    for i, (label, count) in enumerate(counts):
        y = gap + i * (bar_height + gap)
        w = 0.0 if top <= 0 else round(area * count / top, 1)
        bars.append(Bar(label=label, count=int(count), y=y, width=w, text_y=y + bar_height * 0.7))
    height = gap + len(bars) * (bar_height + gap)
    return BarChart(
        width=width,
        height=height,
        label_width=label_width,
        bar_height=bar_height,
        bars=bars,
        total=sum(int(c) for _, c in counts),
    )
