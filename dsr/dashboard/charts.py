"""Charts drawn on the server as SVG: they need no script and no network, and pass the content
security policy (presentation attributes only, no `style`).

Pure functions from figures to markup. Every text is escaped; every chart names itself with a
`<title>` and a `<desc>` (referenced by `aria-labelledby`) and the page shows the same figures as
a table beside it (`ChartTable`), for screen readers and for people who want the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape as _escape_text

from markupsafe import Markup

WIDTH = 720
PLOT_HEIGHT = 220
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 16
AXIS_LABELS_HEIGHT = 40
LEGEND_ROW_HEIGHT = 20
LEGEND_ITEM_WIDTH = 170
LEGEND_CHAR_WIDTH = 7.5  # a generous average for the 13 px sans-serif of the labels
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
INK = "#1d2433"
GRID = "#d5dae3"
PALETTE: tuple[str, ...] = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#6f6f6f",
    "#f0e442",
    "#000000",
)
"""Okabe and Ito's colours, told apart by people with any common colour blindness: one for each
type of request, so that no two series of the figures share a colour."""


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, one per category of the chart (e.g. a request type per month)."""

    label: str
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ChartTable:
    """The figures of a chart as a table: the accessible alternative shown with it."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _attr(value: str) -> str:
    """Escape text for a double-quoted XML attribute."""
    return _escape_text(value, {'"': "&quot;"})


def _text(value: str) -> str:
    return _escape_text(value)


def _number(value: float) -> str:
    """Write a coordinate briefly: 12, 12.5, never 12.000000001."""
    rounded = round(value, 2)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:g}"


def default_format(value: float) -> str:
    """Show a count as an integer and anything else with at most two decimals."""
    return _number(value)


def axis_ticks(maximum: float, *, integer: bool = True, count: int = 5) -> list[float]:
    """Return evenly spaced round ticks from 0 to at least `maximum` (1, 2 or 5 times 10^n)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, float(round(step)))
    steps = math.ceil(maximum / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def _open_svg(chart_id: str, title: str, description: str, height: int) -> list[str]:
    ident = _attr(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{_attr(FONT)}" '
        f'font-size="12" fill="{INK}">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(description)}</desc>',
    ]


def _y_axis(
    ticks: Sequence[float], scale: Callable[[float], float], fmt: Callable[[float], str]
) -> list[str]:
    parts = ['<g class="axis" aria-hidden="true">']
    for tick in ticks:
        y = _number(scale(tick))
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{_text(fmt(tick))}</text>'
        )
    parts.append("</g>")
    return parts


def _x_labels(categories: Sequence[str], centre: Callable[[int], float]) -> list[str]:
    parts = ['<g class="axis" aria-hidden="true">']
    baseline = MARGIN_TOP + PLOT_HEIGHT
    for index, category in enumerate(categories):
        x = _number(centre(index))
        parts.append(
            f'<text x="{x}" y="{baseline + 16}" text-anchor="middle">{_text(category)}</text>'
        )
    parts.append("</g>")
    return parts


def _legend_columns(labels: Sequence[str]) -> tuple[int, int]:
    """Return (items per row, item width): wide enough for the longest label, so none overlap."""
    longest = max((len(label) for label in labels), default=0)
    width = max(LEGEND_ITEM_WIDTH, 24 + math.ceil(longest * LEGEND_CHAR_WIDTH))
    return max(1, (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) // width), width


def _legend(labels: Sequence[str], top: int) -> list[str]:
    per_row, item_width = _legend_columns(labels)
    parts = ['<g class="legend" aria-hidden="true">']
    for index, label in enumerate(labels):
        row, column = divmod(index, per_row)
        x = MARGIN_LEFT + column * item_width
        y = top + row * LEGEND_ROW_HEIGHT
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y + 10}">{_text(label)}</text>')
    parts.append("</g>")
    return parts


def _legend_height(labels: Sequence[str]) -> int:
    per_row, _ = _legend_columns(labels)
    return math.ceil(len(labels) / per_row) * LEGEND_ROW_HEIGHT


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[float], str] = default_format,
) -> Markup:
    """Draw one bar per category, stacked by series (e.g. requests per month, by type).

    Each bar segment carries a `<title>` with its series, category and value, shown on hover.
    Negative values are not drawn: counts only.
    """
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(
                f"the series {one.label!r} has {len(one.values)} values for "
                f"{len(categories)} categories"
            )
    totals = [
        sum(max(0.0, one.values[index]) for one in series) for index in range(len(categories))
    ]
    ticks = axis_ticks(max(totals, default=0.0))
    top_value = ticks[-1]
    baseline = MARGIN_TOP + PLOT_HEIGHT

    def scale(value: float) -> float:
        return baseline - value / top_value * PLOT_HEIGHT

    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(1, len(categories))
    bar_width = slot * 0.7

    def centre(index: int) -> float:
        return MARGIN_LEFT + slot * (index + 0.5)

    legend_top = baseline + AXIS_LABELS_HEIGHT
    height = legend_top + _legend_height([one.label for one in series]) + 8
    parts = _open_svg(chart_id, title, description, height)
    parts += _y_axis(ticks, scale, value_format)
    parts.append('<g class="bars">')
    for index, category in enumerate(categories):
        stacked = 0.0
        x = _number(centre(index) - bar_width / 2)
        for series_index, one in enumerate(series):
            value = max(0.0, one.values[index])
            if value == 0:
                continue
            y_top, y_bottom = scale(stacked + value), scale(stacked)
            stacked += value
            colour = PALETTE[series_index % len(PALETTE)]
            tip = f"{one.label}, {category}: {value_format(value)}"
            parts.append(
                f'<rect x="{x}" y="{_number(y_top)}" width="{_number(bar_width)}" '
                f'height="{_number(y_bottom - y_top)}" fill="{colour}">'
                f"<title>{_text(tip)}</title></rect>"
            )
    parts.append("</g>")
    parts.append(
        f'<line x1="{MARGIN_LEFT}" y1="{baseline}" x2="{WIDTH - MARGIN_RIGHT}" y2="{baseline}" '
        f'stroke="{INK}" stroke-width="1" aria-hidden="true"/>'
    )
    parts += _x_labels(categories, centre)
    parts += _legend([one.label for one in series], legend_top)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # every text above went through _text/_attr


def percent_line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    value_format: Callable[[float], str] = lambda value: f"{_number(value)} %",
) -> Markup:
    """Draw a percentage (0 to 100) per category as a line with a dot per value.

    A None value (nothing to measure, e.g. no request answered that month) leaves a gap.
    """
    if len(values) != len(categories):
        raise ValueError(f"{len(values)} values for {len(categories)} categories")
    for value in values:
        if value is not None and not 0 <= value <= 100:
            raise ValueError(f"a percentage is between 0 and 100, got {value}")
    baseline = MARGIN_TOP + PLOT_HEIGHT

    def scale(value: float) -> float:
        return baseline - value / 100 * PLOT_HEIGHT

    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(1, len(categories))

    def centre(index: int) -> float:
        return MARGIN_LEFT + slot * (index + 0.5)

    height = baseline + AXIS_LABELS_HEIGHT
    parts = _open_svg(chart_id, title, description, height)
    parts += _y_axis([0.0, 25.0, 50.0, 75.0, 100.0], scale, value_format)
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((centre(index), scale(value)))
    parts.append(f'<g class="line" fill="none" stroke="{PALETTE[0]}" stroke-width="2">')
    for run in runs:
        if len(run) > 1:
            points = " ".join(f"{_number(x)},{_number(y)}" for x, y in run)
            parts.append(f'<polyline points="{points}"/>')
    parts.append("</g>")
    parts.append(f'<g class="points" fill="{PALETTE[0]}">')
    for index, value in enumerate(values):
        if value is None:
            continue
        tip = f"{categories[index]}: {value_format(value)}"
        parts.append(
            f'<circle cx="{_number(centre(index))}" cy="{_number(scale(value))}" r="4">'
            f"<title>{_text(tip)}</title></circle>"
        )
    parts.append("</g>")
    parts += _x_labels(categories, centre)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # every text above went through _text/_attr
