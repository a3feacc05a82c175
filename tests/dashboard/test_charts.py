"""Charts are well-formed SVG with a title and a description, escape every text, and use no
`style` attribute (the content security policy forbids inline styles)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dsr.dashboard.charts import (
    PALETTE,
    Series,
    axis_ticks,
    percent_line_chart,
    stacked_bar_chart,
)
from dsr.requests.workflow import RequestType

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> & 'quotes'"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314  # our own output, parsed to check it


def _no_style_anywhere(root: ET.Element) -> None:
    for element in root.iter():
        assert "style" not in element.attrib
        assert element.tag != f"{SVG}style"
        assert element.tag != f"{SVG}script"


def test_a_bar_chart_is_well_formed_titled_and_escaped() -> None:
    markup = stacked_bar_chart(
        chart_id="received",
        title=HOSTILE,
        description="Requests per month " + HOSTILE,
        categories=["janv. 26", HOSTILE],
        series=[Series("Access", (3.0, 1.0)), Series(HOSTILE, (2.0, 0.0))],
    )

    root = _parse(markup)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "received-title received-desc"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "received-title" and title.text == HOSTILE
    assert desc is not None and desc.text == "Requests per month " + HOSTILE
    assert "<script>" not in markup
    _no_style_anywhere(root)
    bars = root.findall(f"{SVG}g[@class='bars']/{SVG}rect")
    assert len(bars) == 3  # the zero is not drawn
    tips = [bar.findtext(f"{SVG}title") for bar in bars]
    assert tips == ["Access, janv. 26: 3", f"{HOSTILE}, janv. 26: 2", f"Access, {HOSTILE}: 1"]
    heights = [float(bar.get("height", "0")) for bar in bars]
    assert heights[0] == pytest.approx(1.5 * heights[1])
    legend = [text.text for text in root.findall(f"{SVG}g[@class='legend']/{SVG}text")]
    assert legend == ["Access", HOSTILE]


def test_a_bar_chart_of_nothing_still_draws_its_axes() -> None:
    root = _parse(
        stacked_bar_chart(
            chart_id="empty", title="t", description="d", categories=["a", "b"], series=[]
        )
    )
    assert root.findall(f"{SVG}g[@class='bars']/{SVG}rect") == []
    assert [t.text for t in root.findall(f"{SVG}g[@class='axis']/{SVG}text")][:2] == ["0", "1"]


def test_a_series_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="2 categories"):
        stacked_bar_chart(
            chart_id="x",
            title="t",
            description="d",
            categories=["a", "b"],
            series=[Series("s", (1.0,))],
        )


def test_a_line_chart_leaves_gaps_where_there_is_nothing_to_measure() -> None:
    markup = percent_line_chart(
        chart_id="on-time",
        title="On time",
        description=HOSTILE,
        categories=["a", "b", "c", "d", "e"],
        values=[50.0, 100.0, None, 75.0, 80.0],
    )

    root = _parse(markup)
    _no_style_anywhere(root)
    lines = root.findall(f"{SVG}g[@class='line']/{SVG}polyline")
    assert len(lines) == 2
    points = root.findall(f"{SVG}g[@class='points']/{SVG}circle")
    assert [p.findtext(f"{SVG}title") for p in points] == [
        "a: 50 %",
        "b: 100 %",
        "d: 75 %",
        "e: 80 %",
    ]
    ys = [float(p.get("cy", "0")) for p in points]
    assert ys[1] < ys[3] < ys[0]  # higher percentages higher up


def test_a_percentage_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percent_line_chart(chart_id="x", title="t", description="d", categories=["a"], values=[101])


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (10, [0, 2, 4, 6, 8, 10]),
        (123, [0, 50, 100, 150]),
    ],
)
def test_axis_ticks_are_round_and_reach_the_maximum(maximum: float, ticks: list[float]) -> None:
    assert axis_ticks(maximum) == ticks


def test_long_legend_labels_never_overlap() -> None:
    labels = ["Exporter mes données dans un format réutilisable", "Effacer", "Ne plus recevoir"]
    svg = stacked_bar_chart(
        chart_id="c",
        title="t",
        description="d",
        categories=["a"],
        series=[Series(label, (1.0,)) for label in labels],
    )
    root = _parse(str(svg))
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    texts = list(legend.iter(f"{SVG}text"))
    placed = sorted((float(t.get("y", 0)), float(t.get("x", 0)), t.text or "") for t in texts)
    for (y1, x1, text1), (y2, x2, _) in zip(placed, placed[1:], strict=False):
        if y1 == y2:  # same row: the next item starts after this label's generous width
            assert x2 - x1 >= 7 * len(text1), (text1, x1, x2)


def test_each_type_of_request_has_its_own_colour() -> None:
    assert len(set(PALETTE)) == len(PALETTE) >= len(RequestType)
