"""`PlainParagraph` and `KeyValueGrid`, the access report's cheap paragraphs and key/value tables.

They, and the text grids' encoding of lines already seen, stand in for reportlab's `Paragraph`,
`key_value_table` and `splitString` for speed, so these tests hold them to what those did: the
same lines at every width (long words, runs of spaces, several lines, bullets), the same
heights, the same pages when a table spans several (rows whole between pages, a row taller than
a page cut inside as the table cuts it), the same extracted text and bytes, and text beyond
Latin or with a right-to-left run still laid out by a Paragraph.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table
from reportlab.platypus.flowables import Flowable

from exports import plain_paragraph as plain_paragraph_module
from exports.pdf import (
    FONT_REGULAR,
    MARGIN,
    bullet_list,
    data_table,
    document_styles,
    key_value_table,
    register_fonts,
    safe_paragraph,
)
from exports.plain_paragraph import (
    BULLET,
    DataGrid,
    KeyValueGrid,
    PlainParagraph,
    SeededCanvas,
    _greedy_lines,
    _paragraph_lines,
    plain_bullet_list,
    plain_data_table,
    plain_key_value_table,
    plain_paragraph,
)
from exports.text_grid import _pieces
from tests.exports.conftest import pdf_pages_text
from tests.exports.demo_subject import qpdf_check
from tests.exports.pdf_marks import page_marks

WIDTH = A4[0] - 2 * MARGIN
HEIGHT = A4[1] - 2 * MARGIN
TEXTS = [
    "Zoé",
    "",
    "12 rue des Lilas, 69003 Lyon",
    "Un  texte   avec des espaces  répétés et une phrase assez longue pour passer à la ligne "
    "plusieurs fois dans une colonne étroite de tableau.",
    "https://www.point3.fr/fr/formations/excel-niveau-avance-avec-un-identifiant-tres-long-1234",
    "Première ligne\nDeuxième ligne, plus longue que la première, qui passe à la ligne elle aussi",
    "<b>Zoé & Cie</b> &amp; <i>non</i>",
    "x" * 300,
]


@pytest.fixture(autouse=True)
def fonts() -> None:
    register_fonts()


def render(flowables: Sequence[Flowable], tmp_path: Path) -> bytes:
    out = io.BytesIO()
    doc = BaseDocTemplate(out, pagesize=A4, invariant=1, initialFontName=FONT_REGULAR)
    doc.addPageTemplates([PageTemplate(frames=[Frame(MARGIN, MARGIN, WIDTH, HEIGHT)])])
    doc.build(list(flowables))
    pdf = out.getvalue()
    qpdf_check(pdf, tmp_path)
    return pdf


def lines_of(paragraph: Flowable) -> list[str] | None:
    """The lines a paragraph broke its text into (None: several runs of text, as markup
    characters make)."""
    if isinstance(paragraph, PlainParagraph):
        return None if paragraph._paragraph else list(paragraph._broken or ())
    assert isinstance(paragraph, Paragraph)
    if paragraph.blPara.kind:
        return None
    return [" ".join(words) for _, words in paragraph.blPara.lines]


@pytest.mark.parametrize("width", [40.0, 115.0, 300.0])
@pytest.mark.parametrize("text", TEXTS)
def test_lines_and_height_are_a_paragraphs(text: str, width: float) -> None:
    style = document_styles().cell
    plain, reference = plain_paragraph(text, style), safe_paragraph(text, style)
    assert isinstance(plain, PlainParagraph)
    assert plain.wrap(width, 1000) == reference.wrap(width, 1000)
    if "\n" not in text:  # a Paragraph with a line break holds its lines otherwise
        assert lines_of(plain) == lines_of(reference)


WORDS = (
    "le la données effacées conservées jusqu'au 31 décembre 2036 Île-de-France « » — – … "
    "1\u202f234,50 € DSR-2026-000001 https://www.point3.fr/fr/formations/excel-niveau-avance "
    "Œuvre cœur Ÿ ß Å a the of records withdrawn; (GDPR Article 17(3)(b)) \u2009 : ! ’ “ ” "
    + "y"
    * 70
).split(" ")


def test_plain_lines_are_broken_where_a_paragraph_breaks_them() -> None:
    """Lines broken without a Paragraph (`_greedy_lines`) are a Paragraph's, for every style of
    our documents, with and without a bullet, at any width and exactly at a line's width."""
    styles = document_styles()
    every = [styles.body, styles.cell, styles.cell_label, styles.heading, styles.title]
    every += [ParagraphStyle("b", parent=s, leftIndent=9, bulletIndent=0) for s in every[:2]]
    rng = random.Random(17)
    compared = 0
    for _ in range(800):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 30))]
        text = rng.choice([" ", " ", "  "]).join(words)
        style = rng.choice(every)
        bullet = BULLET if style.name == "b" and rng.random() < 0.7 else None
        fitting = " ".join(words[: rng.randint(1, len(words))])
        exact = pdfmetrics.stringWidth(fitting, style.fontName, style.fontSize) + 9
        width = rng.choice([40.0, 115.0, 300.0, 481.2283, rng.uniform(20, 500), exact])
        found = _greedy_lines(text, style, width, bullet)
        if found is not None:
            compared += 1
            assert found == _paragraph_lines(text, style, width, bullet), (text, width)
    assert compared > 300


def test_plain_lines_are_not_kept_per_process() -> None:
    """A text a Paragraph would break as one run of words is broken without it, and kept in
    no process-wide cache: a reference or a date is no other document's business."""
    text = "Demande DSR-2026-004217 reçue le 2 mars 2026, exécutée le 7 mars 2026 " * 3
    paragraph = plain_paragraph(text, document_styles().body)
    assert paragraph.wrap(WIDTH, HEIGHT)[1] > document_styles().body.leading  # several lines
    assert not any(text in key for key in plain_paragraph_module._LINES)


def test_a_paragraph_of_several_runs_is_drawn_by_a_paragraph(tmp_path: Path) -> None:
    style = document_styles().body
    pdf = render([plain_paragraph(text, style) for text in TEXTS], tmp_path)
    reference = render([safe_paragraph(text, style) for text in TEXTS], tmp_path)
    assert pdf_pages_text(pdf) == pdf_pages_text(reference)
    assert "<b>Zoé & Cie</b> &amp; <i>non</i>" in pdf_pages_text(pdf)[0]


@pytest.mark.parametrize("width", [60.0, 200.0])
def test_bullets_are_a_bullet_lists(width: float) -> None:
    items = ["Payer vos achats de cours et d'examens", "Faciliter vos achats ultérieurs " * 3]
    style = document_styles().cell
    for plain, reference in zip(
        plain_bullet_list(items, style), bullet_list(items, style), strict=True
    ):
        assert isinstance(plain, PlainParagraph)
        assert plain.wrap(width, 1000) == reference.wrap(width, 1000)
        assert lines_of(plain) == lines_of(reference)


@pytest.mark.parametrize("text", ["Łukasz Nowak", "محمد علي", "山田太郎", "a\u202eb"])
def test_text_beyond_one_font_is_left_to_a_paragraph(text: str) -> None:
    paragraph = plain_paragraph(text, document_styles().cell)
    if isinstance(paragraph, PlainParagraph):  # Latin Extended: DejaVu draws it alone
        assert paragraph.wrap(100, 1000) == safe_paragraph(text, document_styles().cell).wrap(
            100, 1000
        )
    else:
        assert isinstance(paragraph, Paragraph)


def pairs(count: int, long_value: str = "") -> list[tuple[str, str | Sequence[str]]]:
    rows: list[tuple[str, str | Sequence[str]]] = [
        (f"Label number {n:03d} long enough to wrap in the label column", TEXTS[3] * (n % 3 + 1))
        for n in range(count)
    ]
    rows.insert(2, ("Purposes", ["First purpose", "Second purpose, " * 6]))
    if long_value:
        rows.insert(3, ("Comment", long_value))
    return rows


def reference_table(rows: list[tuple[str, str | Sequence[str]]]) -> Table:
    cell = document_styles().cell
    return key_value_table(
        "About the processing",
        [(k, v if isinstance(v, str) else bullet_list(list(v), cell)) for k, v in rows],
        width=WIDTH,
    )


def test_a_grid_has_the_tables_row_heights() -> None:
    rows = pairs(12)
    grid = plain_key_value_table("About the processing", rows, width=WIDTH)
    table = reference_table(rows)
    assert isinstance(grid, KeyValueGrid)
    assert grid.wrap(WIDTH, HEIGHT) == table.wrap(WIDTH, HEIGHT)
    assert grid._heights == pytest.approx(table._rowHeights)


@pytest.mark.parametrize(
    ("count", "long_value"),
    [(3, ""), (40, ""), (40, "Un mot, puis un autre. " * 400), (6, "y" * 3000)],
)
def test_a_grid_gives_the_tables_pages(count: int, long_value: str, tmp_path: Path) -> None:
    """Page for page the same text: rows kept whole between pages under the heading again, and
    a row taller than a page cut inside it where the table cuts it."""
    rows = pairs(count, long_value)
    intro = safe_paragraph("Introduction " * 80, document_styles().body)
    grid = render(
        [intro, plain_key_value_table("About the processing", rows, width=WIDTH)], tmp_path
    )
    table = render([intro, reference_table(rows)], tmp_path)
    assert pdf_pages_text(grid) == pdf_pages_text(table)
    assert len(pdf_pages_text(grid)) > (1 if count > 3 or long_value else 0)


def test_a_grid_with_text_beyond_latin_is_the_table() -> None:
    grid = plain_key_value_table("Record", [("Name", "محمد علي")], width=WIDTH)
    assert isinstance(grid, Table)


def test_label_column_width_is_kept() -> None:
    rows: list[tuple[str, str | Sequence[str]]] = [("Verified email address", "zoe@example.org")]
    grid = plain_key_value_table("Your request", rows, width=WIDTH, label_width=45 * mm)
    assert isinstance(grid, KeyValueGrid)
    assert lines_of(grid._rows[0][0][0]) == []  # not broken before it is laid out
    grid.wrap(WIDTH, HEIGHT)
    assert lines_of(grid._rows[0][0][0]) == ["Verified email address"]


def test_known_characters_are_encoded_as_reportlab_encodes_them() -> None:
    """A line whose characters the document's font subset already holds is encoded with one
    translate: the very bytes reportlab's `splitString` gives (a no-break space as a space)."""
    canvas = Canvas(io.BytesIO())
    font = pdfmetrics.getFont(FONT_REGULAR)
    first = _pieces(canvas, FONT_REGULAR, "Zoé Lefèvre, 1\u00a0234,50 € (payé)")
    line = "Lefèvre Zoé: 1\u00a0234 € payé (4,50)"
    expected = tuple(
        ((FONT_REGULAR, subset), f"({canvas._escape(text)}) Tj")
        for subset, text in font.splitString(line, canvas._doc)
    )
    assert first and _pieces(canvas, FONT_REGULAR, line) == expected


def test_long_paragraphs_break_across_pages_as_paragraphs_do(tmp_path: Path) -> None:
    styles = document_styles()
    texts = [("Une phrase de plus, et encore une autre. " * 180).strip() for _ in range(3)]
    story = [(styles.heading, "Titre"), *((styles.body, text) for text in texts)]
    pdf = render([plain_paragraph(text, style) for style, text in story], tmp_path)
    reference = render([safe_paragraph(text, style) for style, text in story], tmp_path)
    assert len(pdf_pages_text(pdf)) > 2
    assert pdf_pages_text(pdf) == pdf_pages_text(reference)


def test_a_table_cuts_plain_paragraphs_inside_a_row_as_paragraphs(tmp_path: Path) -> None:
    """A table cutting a row inside asks its cells to split at its column's width: they keep the
    lines they were broken into for the padded width, as Paragraphs do (the report's summary)."""
    rows = [[f"Row {n}", (TEXTS[3] + " ") * (30 if n == 3 else 2), "x"] for n in range(8)]
    intro = safe_paragraph("Introduction " * 300, document_styles().body)
    widths = [100, WIDTH - 200, 100]
    plain = data_table(["A", "B", "C"], rows, col_widths=widths, paragraph=plain_paragraph)
    reference = data_table(["A", "B", "C"], rows, col_widths=widths)
    pages = pdf_pages_text(render([intro, plain], tmp_path))
    assert len(pages) == 3
    assert pages == pdf_pages_text(render([intro, reference], tmp_path))


def test_a_grid_draws_its_text_in_the_text_colour(tmp_path: Path) -> None:
    """The text of a grid is drawn in its style's colour (black), not in the label column's
    background colour, which is filled just before it."""
    grid = plain_key_value_table("Your request", pairs(3), width=WIDTH)
    assert isinstance(grid, KeyValueGrid)
    marks = page_marks(io.BytesIO(render([grid], tmp_path)))[0]
    colours = {mark[4] for mark in marks if mark[0] == "text"}
    assert colours == {(0.0, 0.0, 0.0)}


def data_rows(count: int, long_cell: str = "") -> list[list[str]]:
    rows = [[f"Category {n}", str(n), (TEXTS[3] + " ") * (n % 3 + 1)] for n in range(count)]
    if long_cell:
        rows.insert(1, ["Long", "1", long_cell])
    return rows


@pytest.mark.parametrize(
    ("count", "long_cell"), [(3, ""), (60, ""), (8, "Un mot, puis un autre. " * 500)]
)
def test_a_data_grid_draws_what_the_table_draws(count: int, long_cell: str, tmp_path: Path) -> None:
    """Page for page the same marks as `data_table` of plain paragraphs: the text at the same
    places in the same colours, the header row shaded and repeated on each page, the same grid
    lines; a row taller than a page cut inside it as the table cuts it."""
    rows = data_rows(count, long_cell)
    widths = [120, 60, WIDTH - 180]
    intro = safe_paragraph("Introduction " * 80, document_styles().body)
    header = ["Category", "Records", "What remains"]
    grid = plain_data_table(header, rows, col_widths=widths)
    table = data_table(header, rows, col_widths=widths, paragraph=plain_paragraph)
    assert isinstance(grid, DataGrid)
    drawn = page_marks(io.BytesIO(render([intro, grid], tmp_path)))
    assert drawn == page_marks(io.BytesIO(render([intro, table], tmp_path)))
    assert len(drawn) > (1 if count > 3 or long_cell else 0)


def test_a_data_grid_has_the_tables_size() -> None:
    rows = data_rows(12)
    widths = [120, 60, WIDTH - 180]
    grid = plain_data_table(["A", "B", "C"], rows, col_widths=widths)
    table = data_table(["A", "B", "C"], rows, col_widths=widths, paragraph=plain_paragraph)
    assert grid.wrap(WIDTH, HEIGHT) == table.wrap(WIDTH, HEIGHT)
    assert isinstance(grid, DataGrid) and grid._heights == pytest.approx(table._rowHeights)


def test_a_data_grid_with_text_beyond_latin_is_the_table() -> None:
    grid = plain_data_table(["Category", "Records"], [["محمد علي", "1"]], col_widths=[100, 100])
    assert isinstance(grid, Table)


def test_a_data_grid_splits_itself_in_a_frame_narrower_than_it() -> None:
    """Our tables run into the frame's padding, as reportlab lets a table do by default: the
    grid still splits between rows itself rather than asking a table."""
    grid = plain_data_table(["A", "B", "C"], data_rows(30), col_widths=[120, 60, WIDTH - 180])
    grid.wrap(WIDTH - 12, HEIGHT)
    parts = grid.split(WIDTH - 12, HEIGHT / 2)
    assert len(parts) == 2 and all(isinstance(part, DataGrid) for part in parts)


def test_a_data_grid_with_no_row_to_cut_goes_on_as_a_grid() -> None:
    """Where no row fits under the header and the table finds none to cut, nothing is drawn
    here, and on the next page the grid lays itself out again."""
    rows = [["Category", "1", "Three lines of text " * 12]]
    grid = plain_data_table(["A", "B", "C"], rows, col_widths=[120, 60, 150])
    assert isinstance(grid, DataGrid)
    grid.wrap(WIDTH, HEIGHT)
    assert grid._heights is not None
    assert grid.split(WIDTH, grid._heights[0] + 12) == []
    assert grid._table is None
    assert grid.split(WIDTH, HEIGHT) == [grid]


def seeded_render(flowables: Sequence[Flowable], tmp_path: Path) -> bytes:
    out = io.BytesIO()
    doc = BaseDocTemplate(out, pagesize=A4, invariant=1, initialFontName=FONT_REGULAR)
    doc.addPageTemplates([PageTemplate(frames=[Frame(MARGIN, MARGIN, WIDTH, HEIGHT)])])
    doc.build(list(flowables), canvasmaker=SeededCanvas)
    pdf = out.getvalue()
    qpdf_check(pdf, tmp_path)
    return pdf


def test_a_shared_paragraph_is_made_and_drawn_once_and_drawn_as_any(tmp_path: Path) -> None:
    """A paragraph of the map's or the desk's words is broken and drawn once per process: its
    copies draw what a paragraph made for the document draws."""
    styles = document_styles()
    texts = [(styles.heading, "Données conservées"), (styles.body, TEXTS[3])]
    first, again = (
        [plain_paragraph(text, style, shared=True) for style, text in texts] for _ in range(2)
    )
    assert all(isinstance(p, PlainParagraph) and p._shared for p in (*first, *again))
    assert [p._shared for p in first] == [p._shared for p in again]  # the same, shared
    alone = [plain_paragraph(text, style) for style, text in texts]
    drawn = page_marks(io.BytesIO(seeded_render(first, tmp_path)))
    assert all(p._shared and p._shared.drawn for p in first)
    assert page_marks(io.BytesIO(seeded_render(again, tmp_path))) == drawn
    assert page_marks(io.BytesIO(seeded_render(alone, tmp_path))) == drawn


def test_a_paragraph_with_letters_beyond_the_seeded_ones_is_not_shared() -> None:
    paragraph = plain_paragraph("Łódź", document_styles().body, shared=True)
    assert isinstance(paragraph, PlainParagraph) and paragraph._shared is None
