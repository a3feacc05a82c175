"""Building blocks shared by every PDF the desk produces (RoPA, access report, certificate).

Every document embeds the DejaVu fonts (the PDF standard fonts have no glyphs beyond Latin-1) and,
when a text needs them, the fallback fonts of `exports.script_text` (Arabic, Hebrew, Devanagari,
Thai, Chinese, Japanese, Korean), through which every text goes; numbers its pages "X / Y",
carries its title, author, subject and language in its metadata, and is byte-stable for the
same input (reportlab's `invariant`). Data is always text, never markup: `safe_paragraph`
escapes it, so a name like "<b>Zoé & Cie</b>" is printed as typed, in any script.
"""

from __future__ import annotations

import copy
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, TypeAlias

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from exports.script_text import (
    FONT_BOLD,
    FONT_DIR,
    FONT_REGULAR,
    draw_line,
    has_rtl,
    printable,
    register_fonts,
    runs_markup,
    visual_lines,
    wrap_lines,
)

MARGIN: float = 18 * mm
FOOTER_FONT_SIZE = 7.5

PDF_LOCK = threading.RLock()
"""Held while reportlab lays out and draws a document. Reportlab keeps process-wide state that
is not safe to share between threads (its colour evaluation, font and glyph caches, and the
per-process caches of our own flowables), and a worker runs requests on several threads: one
access report once failed with reportlab's "Invalid color value" while another thread drew.
Layout is CPU work under the GIL, so serialising it costs a worker no throughput; workers in
other processes still draw at the same time."""

HEADER_BACKGROUND = colors.HexColor("#dde5ee")
LABEL_BACKGROUND = colors.HexColor("#f3f5f8")
GRID_COLOUR = colors.HexColor("#9aa5b1")


@dataclass(frozen=True)
class DocumentStyles:
    """The paragraph styles of our documents, all in the embedded fonts."""

    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_label: ParagraphStyle
    cell_header: ParagraphStyle


@cache
def document_styles() -> DocumentStyles:
    """Return the shared styles (fonts registered first)."""
    register_fonts()
    body = ParagraphStyle(
        "body",
        fontName=FONT_REGULAR,
        bulletFontName=FONT_REGULAR,
        fontSize=9.5,
        leading=12.5,
        spaceAfter=4,
    )
    return DocumentStyles(
        title=ParagraphStyle(
            "title", parent=body, fontName=FONT_BOLD, fontSize=18, leading=22, spaceAfter=6
        ),
        subtitle=ParagraphStyle(
            "subtitle", parent=body, fontSize=11, leading=14, spaceAfter=10, textColor=colors.grey
        ),
        heading=ParagraphStyle(
            "heading",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=12.5,
            leading=16,
            spaceBefore=10,
            spaceAfter=6,
            keepWithNext=1,
        ),
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        cell=ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11, spaceAfter=0),
        cell_label=ParagraphStyle(
            "cell_label", parent=body, fontName=FONT_BOLD, fontSize=8.5, leading=11, spaceAfter=0
        ),
        cell_header=ParagraphStyle(
            "cell_header", parent=body, fontName=FONT_BOLD, fontSize=9.5, leading=12, spaceAfter=0
        ),
    )


def _logical_lines(text: str) -> list[str]:
    return printable(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")


def safe_markup(text: str, *, bold: bool = False) -> str:
    """Return plain `text` as Paragraph markup that shows it literally, line breaks kept, each
    line in the order it is drawn and in the fonts that have its glyphs."""
    return "<br/>".join(
        runs_markup(visual_lines([line])[0], bold=bold) for line in _logical_lines(text)
    )


_PARSED: OrderedDict[tuple[str, int], tuple[ParagraphStyle, list[Any]]] = OrderedDict()
_PARSED_LOCK = threading.Lock()
PARSED_CACHE_SIZE = 4000
"""Paragraph markups whose parse is kept per process: the labels, headings and the map's words
come back in every document, and parsing them was a sixth of a short report's time."""


def _parsed_frags(markup: str, style: ParagraphStyle) -> list[Any]:
    """Return a fresh copy of the fragments `markup` parses into with `style`, parsing it once."""
    key = (markup, id(style))
    with _PARSED_LOCK:
        entry = _PARSED.get(key)
        if entry is not None:
            _PARSED.move_to_end(key)
    # The style is kept with its fragments: its id is not reused while it is cached.
    found = entry[1] if entry is not None and entry[0] is style else None
    if found is None:
        parsed = Paragraph(markup, style)
        if parsed.style is not style:  # the markup set paragraph attributes: not cached
            return [copy.copy(frag) for frag in parsed.frags]
        found = parsed.frags
        with _PARSED_LOCK:
            _PARSED[key] = (style, found)
            while len(_PARSED) > PARSED_CACHE_SIZE:
                _PARSED.popitem(last=False)
    # Layout sets attributes on the fragments it is given: each paragraph gets its own copies.
    return [copy.copy(frag) for frag in found]


class _Paragraph(Paragraph):  # type: ignore[misc]
    """A Paragraph that does not break its lines again for the width it was just wrapped to,
    made from the cached parse of its markup (`_parsed_frags`).

    A table wraps each cell paragraph to measure its row, again when it splits across pages and
    again when it draws it, always at the column's width: breaking the lines was most of a short
    report's time. Only the last width is remembered, so the state `draw` reads is always the
    one of the width asked last.
    """

    _wrapped_to: float | None = None

    def __init__(
        self,
        text: str | None,
        style: ParagraphStyle | None = None,
        bulletText: Any = None,  # noqa: N803
        frags: list[Any] | None = None,
        **more: Any,
    ) -> None:
        # A part made by `split` comes with its fragments; a bullet is parsed with the text.
        if frags is None and bulletText is None and text is not None and style is not None:
            frags = _parsed_frags(text, style)
        super().__init__(text, style, bulletText=bulletText, frags=frags, **more)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        # `split` may drop the broken lines (blPara): then they are broken again.
        if availWidth == self._wrapped_to and "blPara" in self.__dict__:
            return self.width, self.height
        size: tuple[float, float] = super().wrap(availWidth, availHeight)
        self._wrapped_to = availWidth
        return size


class _BidiParagraph(_Paragraph):
    """A paragraph holding right-to-left text: broken into lines in logical order, here, for the
    width it is given, then each line put in visual order (a paragraph would break the visual
    text instead, and the lines of a long Arabic comment would read bottom-up)."""

    _logical: list[str] | None = None
    _bold = False
    _lines_for: float | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        # A part made by `split` has no logical text: its lines are already broken.
        if self._logical is not None and availWidth != self._lines_for:
            style = self.style
            inner = availWidth - style.leftIndent - style.rightIndent
            inner -= max(style.firstLineIndent, 0) + 1  # one point for rounding
            lines = [
                shown
                for line in self._logical
                for shown in visual_lines(wrap_lines(line, inner, style.fontName, style.fontSize))
            ]
            markup = "<br/>".join(runs_markup(line, bold=self._bold) for line in lines)
            Paragraph.__init__(self, markup, style, bulletText=self.bulletText)
            self._lines_for, self._wrapped_to = availWidth, None
        return super().wrap(availWidth, availHeight)


def _text_paragraph(text: str, style: ParagraphStyle, bullet: str | None = None) -> Paragraph:
    bold = style.fontName == FONT_BOLD
    lines = _logical_lines(text)
    if not any(has_rtl(line) for line in lines):
        markup = "<br/>".join(runs_markup(line, bold=bold) for line in lines)
        return _Paragraph(markup, style, bulletText=bullet)
    paragraph = _BidiParagraph(safe_markup(text, bold=bold), style, bulletText=bullet)
    paragraph._logical, paragraph._bold = lines, bold
    return paragraph


def safe_paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """Build a Paragraph that prints `text` as typed, in any script: data is never markup."""
    return _text_paragraph(text, style)


CellValue: TypeAlias = str | Flowable | list[Flowable]
"""What a table cell takes: plain text (escaped), or flowables used as they are."""


def bullet_list(items: Sequence[str], style: ParagraphStyle) -> list[Flowable]:
    """Build one paragraph per plain-text item, bulleted with a hanging indent when several."""
    if len(items) == 1:
        return [safe_paragraph(items[0], style)]
    bulleted = ParagraphStyle(
        f"{style.name}_bullet", parent=style, leftIndent=style.leftIndent + 9, bulletIndent=0
    )
    return [_text_paragraph(item, bulleted, bullet="•") for item in items]


_CELL_STYLE: list[tuple[Any, ...]] = [
    ("FONTNAME", (0, 0), (-1, -1), FONT_REGULAR),
    ("GRID", (0, 0), (-1, -1), 0.5, GRID_COLOUR),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("TOPPADDING", (0, 0), (-1, -1), 3),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
]
"""The grid, font and padding every table of our documents shares."""


def key_value_table(
    heading: str,
    rows: Sequence[tuple[str, CellValue]],
    *,
    width: float,
    label_width: float = 45 * mm,
    paragraph: Callable[[str, ParagraphStyle], Flowable] = safe_paragraph,
) -> Table:
    """Build a two-column table of labels and values under a heading row repeated on each page.

    Values given as `str` are plain text (escaped) in a `paragraph`; flowables are used as they
    are.
    """
    styles = document_styles()
    cells: list[tuple[CellValue, CellValue]] = [
        (
            paragraph(label, styles.cell_label),
            paragraph(value, styles.cell) if isinstance(value, str) else value,
        )
        for label, value in rows
    ]
    return key_value_cells(
        paragraph(heading, styles.cell_header), cells, width=width, label_width=label_width
    )


def key_value_cells(
    heading: Flowable,
    rows: Sequence[tuple[CellValue, CellValue]],
    *,
    width: float,
    label_width: float,
) -> Table:
    """The table of `key_value_table`, from its cells' flowables."""
    data: list[list[Any]] = [[heading, ""], *([label, value] for label, value in rows)]
    table = Table(
        data,
        colWidths=[label_width, width - label_width],
        repeatRows=1,
        splitInRow=1,
        hAlign="LEFT",
    )
    table.setStyle(_key_value_style())
    return table


@cache
def _key_value_style() -> TableStyle:
    return TableStyle(
        [
            ("SPAN", (0, 0), (1, 0)),
            ("BACKGROUND", (0, 0), (1, 0), HEADER_BACKGROUND),
            ("BACKGROUND", (0, 1), (0, -1), LABEL_BACKGROUND),
            *_CELL_STYLE,
        ]
    )


def data_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    col_widths: Sequence[float],
    paragraph: Callable[[str, ParagraphStyle], Flowable] = safe_paragraph,
) -> Table:
    """Build a table of plain-text cells, each in a `paragraph`, its header row repeated on every
    page it spans."""
    if len(header) != len(col_widths):
        raise ValueError("a data table needs one width per column")
    styles = document_styles()
    data: list[list[Any]] = [[paragraph(cell, styles.cell_label) for cell in header]]
    data.extend([paragraph(cell, styles.cell) for cell in row] for row in rows)
    table = Table(data, colWidths=list(col_widths), repeatRows=1, splitInRow=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
                *_CELL_STYLE,
            ]
        )
    )
    return table


@dataclass(frozen=True)
class DocumentInfo:
    """What a PDF says about itself: metadata and the text of its page footer."""

    title: str
    author: str
    subject: str
    lang: str
    footer: str = ""
    keywords: tuple[str, ...] = ()


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """A canvas that holds its pages back until the end, to print "X / Y" on each of them
    (`page_label`, with %(page)s and %(total)s: "Page 2 of 7" in a document's words)."""

    def __init__(
        self,
        *args: Any,
        footer: str = "",
        page_label: str = "%(page)s / %(total)s",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._page_label = page_label
        self._held_pages: list[dict[str, Any]] = []
        self._footer_code: list[list[str]] = []
        """The operators drawing `footer`, once drawn (the same on every page); a list, shared
        by the states of the held pages that `save` restores in turn."""

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held_pages)
        for state in self._held_pages:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def draw_text(self, x: float, y: float, text: str, *, right: bool = False) -> None:
        """Draw a line of plain text in the footer's font, in any script."""
        draw_line(self, x, y, text, font_name=FONT_REGULAR, size=FOOTER_FONT_SIZE, right=right)

    def _draw_footer(self, total: int) -> None:
        width, _ = self._pagesize
        self.saveState()
        self.setFont(FONT_REGULAR, FOOTER_FONT_SIZE)
        self.setFillColor(colors.grey)
        y = MARGIN / 2
        if self._footer and self._footer_code:
            self._code.extend(self._footer_code[0])
        elif self._footer:
            start = len(self._code)
            self.draw_text(MARGIN, y, self._footer)
            self._footer_code.append(self._code[start:])
        label = self._page_label % {"page": self._pageNumber, "total": total}
        self.draw_text(width - MARGIN, y, label, right=True)
        self.restoreState()


class ShallowFrame(Frame):  # type: ignore[misc]
    """A frame copied shallowly: reportlab deep-copies the frame each time it measures a group of
    flowables kept together (every heading with what follows it), and a frame holds only numbers
    and the list of generated content the copy drops."""

    def __deepcopy__(self, memo: dict[int, Any]) -> ShallowFrame:
        clone: ShallowFrame = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)  # what copy.copy does, without its protocol
        return clone


def render_pdf(
    story: list[Flowable],
    info: DocumentInfo,
    *,
    pagesize: tuple[float, float] = A4,
    canvas: type[_NumberedCanvas] = _NumberedCanvas,
) -> bytes:
    """Lay out `story` on numbered pages and return the PDF, the same bytes for the same input;
    `canvas` draws the pages (a `_NumberedCanvas`)."""
    register_fonts()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=info.title,
        author=info.author,
        subject=info.subject,
        keywords=list(info.keywords),
        creator="privacy-desk",
        lang=info.lang,
        invariant=1,
        displayDocTitle=1,
        initialFontName=FONT_REGULAR,
    )
    frame = ShallowFrame(
        doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", showBoundary=0
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    canvasmaker: Callable[..., Canvas] = partial(canvas, footer=info.footer)
    with PDF_LOCK:
        doc.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()


def content_width(pagesize: tuple[float, float] = A4) -> float:
    """Return the width between the margins of a page of `pagesize`."""
    return pagesize[0] - 2 * MARGIN


__all__ = [
    "FONT_BOLD",
    "FONT_DIR",
    "FONT_REGULAR",
    "DocumentInfo",
    "DocumentStyles",
    "CellValue",
    "ShallowFrame",
    "bullet_list",
    "content_width",
    "data_table",
    "document_styles",
    "key_value_table",
    "register_fonts",
    "render_pdf",
    "safe_markup",
    "safe_paragraph",
]
