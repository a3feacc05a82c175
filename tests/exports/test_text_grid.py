"""`TextGrid`, the access report's flowable for long data tables.

It replaces a reportlab `Table` for speed, so these tests hold it to what the table did: the same
pages (compared with a reference table), the header on every page, no row lost or repeated at a
page break, a cell taller than a page continued on the next pages, text that extracts as typed
(accents, scripts beyond Latin-1, more glyphs than one font subset holds, markup characters), and
a drawn grid.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.lib.pagesizes import A4
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from exports.access_report import text_table, wrap_text
from exports.pdf import (
    FONT_BOLD,
    FONT_REGULAR,
    GRID_COLOUR,
    HEADER_BACKGROUND,
    MARGIN,
    document_styles,
    register_fonts,
)
from exports.text_grid import BOTTOM_PADDING, FONT_SIZE, LEADING, PADDING, TOP_PADDING, TextGrid
from tests.exports.conftest import pdf_pages_text, translations_for
from tests.exports.demo_subject import qpdf_check

WIDTH = A4[0] - 2 * MARGIN
HEIGHT = A4[1] - 2 * MARGIN
HEADER = ["Marker", "Occurred at", "Page viewed"]
WIDTHS = [25 * 2.835, 35 * 2.835, WIDTH - 60 * 2.835]


@pytest.fixture(autouse=True)
def fonts() -> None:
    """Wrapping measures text in the embedded fonts: register them first."""
    register_fonts()


def render(flowables: Sequence[Flowable], tmp_path: Path) -> bytes:
    """Lay `flowables` out on A4 pages with the report's margins; check the PDF with qpdf."""
    register_fonts()
    out = io.BytesIO()
    doc = BaseDocTemplate(out, pagesize=A4, invariant=1, initialFontName=FONT_REGULAR)
    frame = Frame(MARGIN, MARGIN, WIDTH, HEIGHT, id="page")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    doc.build(list(flowables))
    pdf = out.getvalue()
    qpdf_check(pdf, tmp_path)
    return pdf


def wrapped(cells: Sequence[str], bold: bool = False) -> list[str]:
    font = FONT_BOLD if bold else FONT_REGULAR
    return [
        wrap_text(cell, width - 2 * PADDING, font, FONT_SIZE)
        for cell, width in zip(cells, WIDTHS, strict=True)
    ]


def sample_rows(count: int, most_lines: int = 3) -> list[list[str]]:
    """Rows of one to `most_lines` lines, each with a marker R0001, R0002... in its first cell."""
    rows = []
    for number in range(1, count + 1):
        path = "/".join(["cours", "module", "leçon"][: number % 4] + [f"page-{number}"])
        page = f"https://www.ecole-langues.example/fr/{path}" * (1 + number % most_lines)
        rows.append(wrapped([f"R{number:04d}", f"2026-10-{1 + number % 28:02d} 08:00", page]))
    return rows


def reference_table(header: list[str], rows: list[list[str]]) -> Table:
    """The reportlab table `text_table` built before `TextGrid` (its look and its pages)."""
    table = Table([header, *rows], colWidths=WIDTHS, repeatRows=1, splitInRow=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT_REGULAR),
                ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), FONT_SIZE),
                ("LEADING", (0, 0), (-1, -1), LEADING),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
                ("GRID", (0, 0), (-1, -1), 0.5, GRID_COLOUR),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), TOP_PADDING),
                ("BOTTOMPADDING", (0, 0), (-1, -1), BOTTOM_PADDING),
            ]
        )
    )
    return table


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_a_long_grid_repeats_its_header_on_every_page_and_keeps_each_row_once(
    tmp_path: Path,
) -> None:
    rows = sample_rows(400)
    pages = pdf_pages_text(
        render([TextGrid(wrapped(HEADER, bold=True), rows, col_widths=WIDTHS)], tmp_path)
    )

    assert len(pages) >= 5
    assert all(page.startswith("Marker\nOccurred at\nPage viewed\n") for page in pages)
    markers = [marker for page in pages for marker in re.findall(r"R\d{4}", page)]
    assert Counter(markers) == Counter(f"R{number:04d}" for number in range(1, 401))
    assert markers == sorted(markers)
    # Rows fitting on a page are never cut (reportlab's splitInRow leaves a header and a line
    # of the next row at the foot of a page): one header per page, each row whole on one page.
    assert all(page.count("Page viewed") == 1 for page in pages)
    for row in rows:
        assert sum(flat("".join(row)) in flat(page) for page in pages) == 1


def test_pages_are_those_of_the_reportlab_table_it_replaces(tmp_path: Path) -> None:
    # Rows of one or two lines: reportlab cuts none of these (its splitInRow needs a header and
    # 13.2 points free, more than a row of two lines takes), so the pages must be the same.
    header, rows = wrapped(HEADER, bold=True), sample_rows(250, most_lines=2)
    before = [Paragraph("Tracking", document_styles().heading)]

    grid = pdf_pages_text(render([*before, TextGrid(header, rows, col_widths=WIDTHS)], tmp_path))
    table = pdf_pages_text(render([*before, reference_table(header, rows)], tmp_path))

    assert len(grid) > 3
    assert grid == table


def test_a_cell_taller_than_a_page_goes_on_over_the_next_pages(tmp_path: Path) -> None:
    long_cell = "\n".join(f"L{number:03d} of the long comment" for number in range(1, 181))
    rows = [
        wrapped(["R0001", "2026-10-01", "short"]),
        ["R0002", "2026-10-02", long_cell],
    ]
    rows.append(wrapped(["R0003", "2026-10-03", "after"]))
    grid = TextGrid(wrapped(HEADER, bold=True), rows, col_widths=WIDTHS)

    pages = pdf_pages_text(
        render([Paragraph("Comments", document_styles().heading), grid], tmp_path)
    )

    assert len(pages) >= 3
    assert all(page.count("Page viewed") == 1 for page in pages)
    # The tall row starts under the first one, on the first page, rather than leaving it blank.
    assert "R0001" in pages[0]
    assert "L001" in pages[0]
    lines = [line for page in pages for line in re.findall(r"L\d{3}", page)]
    assert lines == [f"L{number:03d}" for number in range(1, 181)]
    assert flat("".join(pages)).count("R00032026-10-03after") == 1


@settings(max_examples=60, deadline=None)
@given(
    line_counts=st.lists(st.tuples(st.integers(1, 90), st.integers(1, 3)), min_size=1, max_size=12),
    available=st.integers(40, 800),
)
def test_splitting_loses_and_repeats_nothing_and_each_part_fits(
    line_counts: list[tuple[int, int]], available: int
) -> None:
    rows = [
        [
            "\n".join(f"r{row}a{line}" for line in range(a)),
            "\n".join(f"r{row}b{line}" for line in range(b)),
        ]
        for row, (a, b) in enumerate(line_counts)
    ]
    grid = TextGrid(["A", "B"], rows, col_widths=[100, 100])
    parts: list[TextGrid] = []
    rest = grid
    while rest.wrap(200, available)[1] > available:
        split = rest.split(200, available)
        assert len(split) == 2, "a row of several lines always splits when one line fits"
        first, rest = split
        assert first.wrap(200, available)[1] <= available
        assert first.header == rest.header == [["A"], ["B"]]
        parts.append(first)
    parts.append(rest)

    for column, letter in enumerate("ab"):
        kept = [line for part in parts for row in part.rows for line in row[column]]
        expected = [
            f"r{row}{letter}{line}"
            for row, counts in enumerate(line_counts)
            for line in range(counts[column])
        ]
        assert kept == expected


def test_nothing_is_placed_when_not_even_the_header_and_one_line_fit() -> None:
    grid = TextGrid(["A"], [["one\ntwo\nthree"]], col_widths=[100])
    header = LEADING + TOP_PADDING + BOTTOM_PADDING

    assert grid.split(100, header - 1) == []
    assert grid.split(100, header + LEADING + TOP_PADDING + BOTTOM_PADDING - 1) == []
    top, rest = grid.split(100, header + 2 * LEADING + TOP_PADDING + BOTTOM_PADDING)
    assert (top.rows, rest.rows) == ([[["one", "two"]]], [[["three"]]])


def test_redacted_cells_show_the_redaction_word(tmp_path: Path) -> None:
    for lang in ("fr", "en"):
        redacted = translations_for(lang).pgettext("report", "[redacted: another person's data]")
        table = text_table(
            HEADER,
            [["R0001", "2026-10-01 08:00", redacted], [redacted, redacted, "/fr/tarifs"]],
            col_widths=WIDTHS,
        )
        text = flat("".join(pdf_pages_text(render([table], tmp_path))))
        assert text.count(flat(redacted)) == 3


def test_accents_and_scripts_beyond_latin_1_extract_as_typed(tmp_path: Path) -> None:
    names = ["Łukasz Żółć", "Zoé Ærøskøbing", "Дмитрий Шостакович", "Ελένη", "<b>Zoé & Cie</b>"]
    # More distinct characters than one font subset (256 codes) holds, in one cell.
    many = "".join(
        chr(code) for code in [*range(0xC0, 0x180), *range(0x391, 0x3A2), *range(0x410, 0x450)]
    )
    cells = [
        [f"R{number:04d}", name, many if number == 1 else name]
        for number, name in enumerate(names, 1)
    ]
    table = text_table(HEADER, cells, col_widths=WIDTHS)

    text = flat("".join(pdf_pages_text(render([table], tmp_path))))

    for name in names:
        assert flat(name) in text
    assert many in text


def test_the_grid_is_drawn_header_background_and_every_border(tmp_path: Path) -> None:
    rows = sample_rows(4)
    pdf = render([TextGrid(wrapped(HEADER, bold=True), rows, col_widths=WIDTHS)], tmp_path)
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    operations = ContentStream(page.get_contents(), page.pdf).operations

    def operands(operator: bytes) -> list[list[float]]:
        return [[float(value) for value in args] for args, op in operations if op == operator]

    def rounded(values: Sequence[float]) -> list[float]:
        return [round(value, 4) for value in values]

    assert rounded(HEADER_BACKGROUND.rgb()) in [rounded(colour) for colour in operands(b"rg")]
    assert len(operands(b"re")) == 1  # the header's background
    assert rounded(operands(b"RG")[-1]) == rounded(GRID_COLOUR.rgb())
    assert operands(b"w")[-1] == [0.5]
    # One line above each row, one below the last, each the grid's width; one before each
    # column and one after the last, each its height (in the grid's own coordinates).
    grid = TextGrid(wrapped(HEADER, bold=True), rows, col_widths=WIDTHS)
    width, height = grid.wrap(WIDTH, HEIGHT)
    segments = [
        (round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2))
        for (x0, y0), (x1, y1) in zip(operands(b"m"), operands(b"l"), strict=True)
    ]
    across = [s for s in segments if s[1] == s[3] and (s[0], s[2]) == (0, round(width, 2))]
    down = [s for s in segments if s[0] == s[2] and (s[1], s[3]) == (round(height, 2), 0)]
    assert len(across) == len(rows) + 2
    assert len(down) == len(HEADER) + 1
    assert len(segments) == len(across) + len(down)
    assert len(operands(b"S")) == 1
