"""Line charts as inline SVG: no library, no script, nothing fetched.

:func:`line_chart` draws series of (step, value) points on one pair of axes with "nice"
ticks, a legend and a tooltip (``<title>``) on every point, so the report is one
self-contained file that any browser renders, offline.
"""

from __future__ import annotations

import math
from html import escape

# Colour-blind-safe (Okabe-Ito), then greys for long legends.
COLOURS = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
    "#56B4E9", "#F0E442", "#000000", "#999999", "#666666",
]  # fmt: skip
WIDTH, HEIGHT = 520, 250
# The plot's margins; the legend is in the right one.
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 136, 28, 40


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) covering
    [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value < high + step * 0.5:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.4g}"


def line_chart(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    chart_id: str,
    y_label: str = "",
    dashed: tuple[str, ...] = (),
    empty: str = "no values",
) -> str:
    """An ``<svg>`` line chart of `series` (name → [(step, value), …]).

    Args:
        series: The lines, in legend order; a series of one point is drawn as a dot.
        title: Drawn above the chart (and its accessible name).
        chart_id: The svg's ``data-chart`` attribute, for finding it in the page.
        y_label: The y axis' name.
        dashed: Names of the series drawn dashed (e.g. the training curve beside eval).
        empty: What the chart says when no series has a value.
    """
    points = [(x, y) for line in series.values() for x, y in line if math.isfinite(y)]
    head = (
        f'<svg class="chart" data-chart="{escape(chart_id)}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}">'
        f'<text class="title" x="{WIDTH / 2}" y="16" text-anchor="middle">{escape(title)}</text>'
    )
    if not points:
        return (
            head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
            f'class="empty">{escape(empty)}</text></svg>'
        )
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x0) / (x1 - x0) * plot_w if x1 > x0 else _LEFT + plot_w / 2

    def py(y: float) -> float:
        return _TOP + plot_h - (y - y0) / (y1 - y0) * plot_h if y1 > y0 else _TOP + plot_h / 2

    parts = [head]
    for tick in y_ticks:
        y = py(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_label(tick)}</text>"
        )
    for tick in x_ticks:
        x = px(tick)
        parts.append(
            f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP + plot_h}" '
            f'y2="{_TOP + plot_h + 4}"/><text class="tick" x="{x:.1f}" '
            f'y="{_TOP + plot_h + 16}" text-anchor="middle">{_label(tick)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{_TOP + plot_h}" '
        f'y2="{_TOP + plot_h}"/>'
        f'<text class="axis-name" x="{_LEFT + plot_w / 2}" y="{HEIGHT - 6}" '
        'text-anchor="middle">step</text>'
    )
    if y_label:
        parts.append(
            f'<text class="axis-name" transform="translate(12 {_TOP + plot_h / 2}) '
            f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
        )
    for i, (name, line) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        line = [(x, y) for x, y in line if math.isfinite(y)]
        dash = ' stroke-dasharray="5 3"' if name in dashed else ""
        if len(line) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line)
            parts.append(
                f'<polyline class="series" data-series="{escape(name)}" fill="none" '
                f'stroke="{colour}" stroke-width="2"{dash} points="{path}"/>'
            )
        if len(line) <= 40:
            for x, y in line:
                parts.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(name)} at step {x:g}: {y:.4f}</title></circle>"
                )
        # The legend: a row per series, right of the plot.
        lx, ly = WIDTH - _RIGHT + 10, _TOP + 6 + 15 * i
        parts.append(
            f'<line x1="{lx}" x2="{lx + 18}" y1="{ly}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dash}/><text class="legend" x="{lx + 22}" y="{ly + 4}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(values: dict[str, float], title: str, chart_id: str, y_label: str = "") -> str:
    """An ``<svg>`` bar chart of `values` (name → value, from 0 up), each bar labelled
    below and titled with its value; for one evaluation's gate weights."""
    head = (
        f'<svg class="chart" data-chart="{escape(chart_id)}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}">'
        f'<text class="title" x="{WIDTH / 2}" y="16" text-anchor="middle">{escape(title)}</text>'
    )
    shown = {k: v for k, v in values.items() if math.isfinite(v)}
    if not shown:
        return head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="empty">no values</text></svg>'
    ticks = nice_ticks(0.0, max(max(shown.values()), 0.0) or 1.0)
    top = ticks[-1]
    left, right, bottom = _LEFT, 72, 70  # names below the bars, turned to the right
    plot_w, plot_h = WIDTH - left - right, HEIGHT - _TOP - bottom
    parts = [head]
    for tick in ticks:
        y = _TOP + plot_h - tick / top * plot_h
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_label(tick)}</text>"
        )
    slot = plot_w / len(shown)
    for i, (name, value) in enumerate(shown.items()):
        height = max(0.0, value) / top * plot_h
        x, y = left + i * slot + slot * 0.15, _TOP + plot_h - height
        cx = left + (i + 0.5) * slot
        parts.append(
            f'<rect class="bar" data-bar="{escape(name)}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{COLOURS[i % len(COLOURS)]}">'
            f"<title>{escape(name)}: {value:.4f}</title></rect>"
            f'<text class="tick" transform="translate({cx:.1f} {_TOP + plot_h + 10}) '
            f'rotate(30)">{escape(name)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{_TOP + plot_h}" '
        f'y2="{_TOP + plot_h}"/>'
    )
    if y_label:
        parts.append(
            f'<text class="axis-name" transform="translate(12 {_TOP + plot_h / 2}) '
            f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
