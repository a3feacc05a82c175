"""A paragraph of plain Latin text laid out and drawn without reportlab's Paragraph machinery.

The access report holds some 550 short paragraphs (labels, values, headings) in about 30 small
tables; making, breaking and drawing a reportlab `Paragraph` for each was most of a typical
report's time. `PlainParagraph` breaks its text into the very lines a `Paragraph` of the same
style and width gets (as its `breakLines` finds them for one run of words in one font, or, for
a text it reads otherwise, asking one, once per process for each text, style and width), splits
between lines as a `Paragraph` does, and draws all its lines as one text object whose operators
are kept per document. Text that needs more than the style's font (other scripts, right-to-left
runs) or whose lines a Paragraph would not break alone is left to `safe_paragraph`.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import PATH_OPS
from reportlab.platypus import Paragraph, Spacer, Table
from reportlab.platypus.flowables import Flowable

from exports.pdf import (
    GRID_COLOUR,
    HEADER_BACKGROUND,
    LABEL_BACKGROUND,
    _logical_lines,
    _NumberedCanvas,
    _text_paragraph,
    bullet_list,
    data_table,
    document_styles,
    key_value_cells,
    key_value_table,
)
from exports.script_text import FONT_BOLD, FONT_REGULAR, _is_fast, has_rtl, runs_markup
from exports.text_grid import _pieces, grid_path

BULLET = "•"
LINES_CACHE_SIZE = 8000
"""Texts whose line breaks are kept per process, for a style and a width."""

_StyleKey = tuple[Any, ...]
_LINES: OrderedDict[tuple[str, _StyleKey, float, str | None], tuple[str, ...] | None] = (
    OrderedDict()
)
_LINES_LOCK = threading.Lock()
_OPERATORS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
"""Per PDF document and font: each distinct line as its text operators (subsets are per
document)."""

SEEDED_LETTERS = "".join(
    sorted(
        "ÀÂÄÆÇÈÉÊËÎÏÔÖÙÛÜŸŒàâäæçèéêëîïôöùûüÿœ"  # French
        "ÁÍÑÓÚáíñóúßÅØåø"  # the other Latin names and words of western Europe
        "«»‘’‚“”„–—…•€£°§×·\u202f\u2009"  # punctuation; the narrow spaces of French numbers
    )
)
"""Letters beyond ASCII given their codes first in every document of `seed_fonts`: the same
codes in each, so that what a shared grid drew in one document is drawn as it is in the next."""
_SEEDED_CODES = frozenset(map(ord, SEEDED_LETTERS)) | frozenset(range(32, 127)) | {0xA0}
_SEEDED_DOCUMENTS: weakref.WeakSet[Any] = weakref.WeakSet()
SHARED_GRIDS_SIZE = 512
"""Grids of the map's words (a category's processing, the controller) kept per process."""
_SHARED_GRIDS: OrderedDict[tuple[Any, ...], KeyValueGrid] = OrderedDict()


_FILL_OPERATORS: dict[Any, str | None] = {}


_FILL_BY_ID: dict[int, tuple[Any, str | None]] = {}
"""`_fill_operator` by the identity of the colour objects of our styles (a Color's hash is
computed in Python, for each of a document's hundreds of cells); each is held, so its id is not
reused while it is here."""


def _fill_operator(colour: Any) -> str | None:
    """The operator setting `colour` as the fill colour, as reportlab's canvas writes it for an
    RGB colour (None for another kind: the canvas sets it)."""
    known = _FILL_BY_ID.get(id(colour))
    if known is not None and known[0] is colour:
        return known[1]
    try:
        operator = _FILL_OPERATORS[colour]
    except KeyError:
        operator = None
        if type(colour) is Color and colour.alpha == 1:
            operator = f"{fp_str(colour.red, colour.green, colour.blue)} rg"
        _FILL_OPERATORS[colour] = operator
    except TypeError:  # not hashable
        return None
    if len(_FILL_BY_ID) > 256:
        _FILL_BY_ID.clear()
    _FILL_BY_ID[id(colour)] = (colour, operator)
    return operator


def _stroke_operator(colour: Any) -> str:
    """The operator setting RGB `colour` as the stroke colour, as reportlab's canvas writes it."""
    return f"{fp_str(colour.red, colour.green, colour.blue)} RG"


def seed_fonts(canv: Any) -> None:
    """Give `SEEDED_LETTERS` their codes in the document's first subset of both fonts before
    anything is drawn (ASCII has its own already): the same codes in every seeded document."""
    doc = canv._doc
    for name in (FONT_REGULAR, FONT_BOLD):
        font = pdfmetrics.getFont(name)
        seeded = _SEEDED_STATES.get(name)
        if seeded is not None and doc not in font.state:
            font.state[doc] = _state_copy(seeded)
            continue
        fresh = doc not in font.state
        font.splitString(SEEDED_LETTERS, doc)
        if fresh:
            _SEEDED_STATES[name] = _state_copy(font.state[doc])
    _SEEDED_DOCUMENTS.add(doc)


_SEEDED_STATES: dict[str, Any] = {}
"""Per font, its state in a document just seeded: each seeded document starts from a copy
(making it again was a Python loop over ASCII and the seeded letters, per font and document)."""


def _state_copy(state: Any) -> Any:
    """A copy of a font's state in a document that shares nothing it changes."""
    copied = copy.copy(state)
    copied.assignments = dict(state.assignments)
    copied.subsets = [list(subset) for subset in state.subsets]
    return copied


class SeededCanvas(_NumberedCanvas):
    """A canvas whose Latin letters beyond ASCII take the same codes in every document
    (`seed_fonts`): what the map's and the desk's words drew in one document is drawn once per
    process, and the documents embed the same font subsets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        seed_fonts(self)


def _style_key(style: ParagraphStyle) -> _StyleKey:
    """What of a style decides where a Paragraph breaks its lines."""
    return (
        style.fontName,
        style.fontSize,
        style.leftIndent,
        style.rightIndent,
        style.firstLineIndent,
        style.bulletFontName,
        style.bulletFontSize,
        style.bulletIndent,
        style.wordWrap,
        style.splitLongWords,
        style.alignment,
    )


_GREEDY_CHARACTERS = frozenset("&<>\xa0\xad")
"""Characters a Paragraph reads otherwise than as one run of words: markup escaped as
entities, a no-break space, a soft hyphen."""


def _greedy_lines(
    line: str, style: ParagraphStyle, width: float, bullet: str | None
) -> tuple[str, ...] | None:
    """The lines a Paragraph of `style` breaks plain `line` into at `width`, found as its
    `breakLines` finds them for one run of text in one font: the same words, the same widths
    added in the same order, the same shrinkable spaces. None where it would do more: a word
    wider than a line (split), hyphenation, soft hyphens, no-break spaces, bidirectional or CJK
    wrapping, shaping, several fragments (the parser cuts text at an entity), or nothing to
    draw; `_paragraph_lines` asks a Paragraph then."""
    if (
        width < 1e-6
        or style.wordWrap
        or style.shaping
        or style.hyphenationLang
        or style.uriWasteReduce
        or style.embeddedHyphenation
        or style.endDots
        or not _GREEDY_CHARACTERS.isdisjoint(line)
    ):
        return None
    words = line.split()  # as the Paragraph splits text without a no-break space
    if not words:
        return None
    font, size = style.fontName, style.fontSize
    measure = pdfmetrics.getFont(font).stringWidth  # what `stringWidth(text, font, size)` calls
    first = width - (style.leftIndent + style.firstLineIndent) - style.rightIndent
    later = width - style.leftIndent - style.rightIndent
    if bullet:  # `_handleBulletWidth`: a bullet running past the indent shortens line one
        bullet_end = (
            style.bulletIndent
            + pdfmetrics.stringWidth(bullet, style.bulletFontName, style.bulletFontSize)
            + 0.6 * style.bulletFontSize
        )
        indent = style.leftIndent + style.firstLineIndent
        if bullet_end > indent:
            first -= bullet_end - indent
    if (
        len(line) * _widest_latin(font) * size < (first - 0.01) * 1000
        and max(line) < "\u0100"
        and " ".join(words) == line
    ):
        return (line,)  # one line even in its font's widest Latin-1 letters: not measured
    if measure(line, size) < first - 1e-6 and " ".join(words) == line:
        return (line,)  # one line: its words fit with room to spare for any rounding
    space = measure(" ", size)
    shrink = style.spaceShrinkage * space
    lines: list[str] = []
    current: list[str] = []
    used = -space
    limit = first
    for word in words:
        word_width = measure(word, size)
        wider = used + space + word_width
        if wider > limit + shrink * len(current):
            if style.splitLongWords and word_width > limit:
                return None  # a long word: the Paragraph splits it
            if current:
                lines.append(" ".join(current))
                current, used, limit = [word], word_width, later
                continue
        current.append(word)
        used = wider
    lines.append(" ".join(current))
    return tuple(lines)


@lru_cache(maxsize=16)
def _widest_latin(font_name: str) -> float:
    """The widest advance of a Latin-1 character in `font_name`, in thousandths of an em."""
    face = pdfmetrics.getFont(font_name).face
    return float(max(face.charWidths.get(code, face.defaultWidth) for code in range(256)))


def _paragraph_lines(
    line: str, style: ParagraphStyle, width: float, bullet: str | None
) -> tuple[str, ...] | None:
    """The lines a Paragraph of `style` breaks plain `line` into at `width` (None: it would not
    lay it out as one run of words), computed once per process."""
    key = (line, _style_key(style), width, bullet)
    with _LINES_LOCK:
        if key in _LINES:
            _LINES.move_to_end(key)
            return _LINES[key]
    bold = style.fontName == FONT_BOLD
    paragraph = Paragraph(runs_markup(line, bold=bold), style, bulletText=bullet)
    paragraph.wrap(width, 1e9)
    broken = paragraph.blPara
    found: tuple[str, ...] | None = None
    if broken.kind == 0 and paragraph.style is style:
        found = tuple(" ".join(words) for _, words in broken.lines)
    with _LINES_LOCK:
        _LINES[key] = found
        while len(_LINES) > LINES_CACHE_SIZE:
            _LINES.popitem(last=False)
    return found


class PlainParagraph(Flowable):  # type: ignore[misc]
    """Lines of one font, broken and split where a Paragraph of the same style breaks them."""

    def __init__(
        self,
        lines: Sequence[str],
        style: ParagraphStyle,
        *,
        bullet: str | None = None,
        broken: tuple[str, ...] | None = None,
        broken_for: float | None = None,
    ) -> None:
        super().__init__()
        self.style = style
        self._logical = list(lines)
        self._bullet = bullet
        self._broken = broken
        self._broken_for = broken_for
        self._paragraph: Flowable | None = None
        """A Paragraph laying the text out instead, where it breaks it otherwise than alone."""
        self._shared: _SharedLines | None = None
        """Of a paragraph of the map's or the desk's words (`plain_paragraph(shared=True)`):
        its lines and drawings, shared by its copies in every document."""

    def __copy__(self) -> PlainParagraph:
        """A copy of the same attributes, without `copy.copy`'s generic reduction (every shared
        paragraph of every document is a copy)."""
        clone = PlainParagraph.__new__(PlainParagraph)
        clone.__dict__.update(self.__dict__)
        return clone

    def _break(self, width: float) -> tuple[str, ...] | None:
        if self._broken is not None and self._broken_for in (None, width):
            return self._broken
        shared = self._shared
        if shared is not None and width in shared.breaks:
            self._broken, self._broken_for = shared.breaks[width], width
            return self._broken
        style = self.style
        inner = width - style.leftIndent - style.rightIndent
        found: list[str] = []
        for number, line in enumerate(self._logical):
            bullet = self._bullet if number == 0 else None
            lines = _greedy_lines(line, style, width, bullet)
            if lines is None:
                lines = _paragraph_lines(line, style, width, bullet)
            if lines is None:
                return None
            found += lines
        if inner <= 0:
            return None
        self._broken, self._broken_for = tuple(found), width
        if shared is not None:
            shared.breaks[width] = self._broken
        return self._broken

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        lines = self._break(availWidth)
        if lines is None:
            return self._as_paragraph().wrap(availWidth, availHeight)  # type: ignore[no-any-return]
        self.width = availWidth
        self.height = len(lines) * self.style.leading
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """As a Paragraph splits (no orphan: at least two lines, or nothing, stay here), at the
        lines it was last broken into, whatever the width given (a table cutting a row inside
        gives its column's)."""
        lines = self._broken if self._broken is not None else self._break(availWidth)
        if lines is None:
            return self._as_paragraph().split(availWidth, availHeight)  # type: ignore[no-any-return]
        if not lines or availHeight < 1e-8:
            return []
        fitting = int(availHeight / float(self.style.leading))
        if fitting <= 1:
            return []
        if len(lines) <= fitting:
            return [self]
        style = self.style
        first = PlainParagraph(
            [], style, bullet=self._bullet, broken=lines[:fitting], broken_for=None
        )
        rest = PlainParagraph([], style, broken=lines[fitting:], broken_for=None)
        return [first, rest]

    def _as_paragraph(self) -> Flowable:
        if self._paragraph is None:
            self._paragraph = _text_paragraph("\n".join(self._logical), self.style, self._bullet)
        return self._paragraph

    def draw(self) -> None:
        if self._paragraph is not None:
            self._paragraph.drawOn(self.canv, 0, 0)
            return
        code: list[str] = []
        self.canv.setFillColor(self.style.textColor)
        self.code_at(self.canv, code, 0.0, 0.0)
        self.canv._code.append(" ".join(code))

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        """Draw at x, y as `Flowable.drawOn` does, without its saved canvas state and moved
        origin: the lines are drawn at their place, inside their own q/Q, the colour set by its
        operator (some 150 paragraphs a report, each copying the canvas's state twice)."""
        fill = _fill_operator(self.style.textColor)
        if self._paragraph is not None or fill is None:
            super().drawOn(canvas, x, y, _sW)
            return
        x = self._hAlignAdjust(x, _sW)
        if self._shared is not None and canvas._doc in _SEEDED_DOCUMENTS:
            move = f"1 0 0 1 {fp_str(x)} {fp_str(y)} cm"
            canvas._code.append(f"q {fill} {move} {self._kept_code(canvas)} Q")
            return
        code = ["q", fill]
        self.code_at(canvas, code, x, y)
        code.append("Q")
        canvas._code.append(" ".join(code))

    def _kept_code(self, canvas: Any) -> str:
        """The operators drawing the lines from the origin, made once per process for the lines
        and the internal names the fonts have in the document (asked for in the order drawing
        asks, which registers them with it as drawing does)."""
        shared = cast(_SharedLines, self._shared)
        style = self.style
        fonts = (style.bulletFontName, style.fontName) if self._bullet else (style.fontName,)
        doc = canvas._doc
        names = tuple(pdfmetrics.getFont(f).getSubsetInternalName(0, doc) for f in fonts)
        key = (self._broken or (), self.height, names)
        drawn = shared.drawn.get(key)
        if drawn is None:
            code: list[str] = []
            self.code_at(canvas, code, 0.0, 0.0)
            drawn = shared.drawn[key] = " ".join(code)
        return drawn

    def code_at(self, canv: Any, code: list[str], x: float, y: float) -> None:
        """Add to `code` the operators drawing the lines with their bottom left corner at x, y."""
        lines = self._broken or ()
        if not lines:
            return
        style = self.style
        baseline = y + self.height - style.fontSize  # where a Paragraph puts its first line
        shift = 0.0
        if self._bullet:
            # As a Paragraph draws it: the bullet from its indent, the first line moved on
            # past the bullet and 0.6 em when they would otherwise come closer.
            size = style.bulletFontSize
            bullet_end = (
                style.bulletIndent
                + pdfmetrics.stringWidth(self._bullet, style.bulletFontName, size)
                + size * 0.6
            )
            shift = max(0.0, bullet_end - style.leftIndent)
            code += [
                "BT",
                f"1 0 0 1 {fp_str(x + style.bulletIndent)} {fp_str(baseline)} Tm",
                *self._text(canv, style.bulletFontName, size, [self._bullet], ends=False),
                "ET",
            ]
        body = self._text(canv, style.fontName, style.fontSize, lines)
        if shift:
            # The first line only: T* goes back to the start of the line matrix.
            body[body.index("T*")] = f"T* {fp_str(-shift)} 0 Td"
            body.insert(0, f"{fp_str(shift)} 0 Td")
        code += [
            "BT",
            f"1 0 0 1 {fp_str(x + style.leftIndent)} {fp_str(baseline)} Tm",
            *body,
            "ET",
        ]

    def _text(
        self, canv: Any, font_name: str, size: float, lines: Sequence[str], *, ends: bool = True
    ) -> list[str]:
        doc = canv._doc
        caches = _OPERATORS.get(doc)
        if caches is None:
            caches = _OPERATORS[doc] = {}
        cache = caches.setdefault(font_name, {})
        # The lines of the map's and the desk's words have the same codes in every seeded
        # document (`seed_fonts`): their operators are kept for the process.
        kept = self._shared is not None and doc in _SEEDED_DOCUMENTS
        # The operator setting each (font, subset) at a size and leading in the document (the
        # first time, asking for its internal name registers the subset with it).
        fonts = caches.setdefault("", {})
        leading = self.style.leading
        code: list[str] = []
        current: tuple[str, int] | None = None
        for line in lines:
            pieces = cache.get(line)
            if pieces is None:
                pieces = _SHARED_PIECES.get((font_name, line)) if kept else None
                if pieces is None:
                    pieces = _pieces(canv, font_name, line)
                    if kept:
                        _keep_pieces((font_name, line), pieces)
                cache[line] = pieces
            for font, operator in pieces:
                if font != current:
                    current = font
                    setting = fonts.get((font, size, leading))
                    if setting is None:
                        name = pdfmetrics.getFont(font[0]).getSubsetInternalName(font[1], doc)
                        setting = f"{name} {fp_str(size)} Tf {fp_str(leading)} TL"
                        fonts[(font, size, leading)] = setting
                    code.append(setting)
                code.append(operator)
            if ends:
                code.append("T*")
        return code


SHARED_PIECES_SIZE = 8000
"""Lines of shared paragraphs whose text operators are kept per process."""
_SHARED_PIECES: OrderedDict[tuple[str, str], Any] = OrderedDict()


def _keep_pieces(key: tuple[str, str], pieces: Any) -> None:
    with _LINES_LOCK:
        _SHARED_PIECES[key] = pieces
        while len(_SHARED_PIECES) > SHARED_PIECES_SIZE:
            _SHARED_PIECES.popitem(last=False)


@dataclass
class _SharedLines:
    """What the copies of a shared paragraph share: its lines per width, and its drawing per
    lines, height and internal font names (seeded documents only)."""

    breaks: dict[float, tuple[str, ...]]
    drawn: dict[tuple[Any, ...], str]


SHARED_PARAGRAPHS_SIZE = 2000
"""Paragraphs of the map's and the desk's words kept per process (headings, categories...)."""
_SHARED_PARAGRAPHS: OrderedDict[tuple[Any, ...], PlainParagraph] = OrderedDict()


def plain_paragraph(
    text: str, style: ParagraphStyle, bullet: str | None = None, *, shared: bool = False
) -> Flowable:
    """Build a paragraph printing `text` as typed, as `safe_paragraph` does, drawn cheaply when
    it is Latin text in the style's font.

    `shared`: the text is the map's or the desk's words, never personal data (no reference,
    date, name or count of a person): it is made, broken and, in seeded documents, drawn once
    per process, each document drawing a copy."""
    if not shared:
        return _plain_paragraph(text, style, bullet)
    key = (text, _style_key(style), style.leading, bullet)
    with _LINES_LOCK:
        template = _SHARED_PARAGRAPHS.get(key)
        if template is not None:
            _SHARED_PARAGRAPHS.move_to_end(key)
    if template is None:
        made = _plain_paragraph(text, style, bullet)
        fonts = {style.fontName, style.bulletFontName if bullet else style.fontName}
        seeded = fonts <= {FONT_REGULAR, FONT_BOLD} and all(
            _SEEDED_CODES.issuperset(map(ord, part)) for part in (text, bullet or "")
        )
        if not isinstance(made, PlainParagraph) or not seeded:
            return made
        made._shared = _SharedLines({}, {})
        template = made
        with _LINES_LOCK:
            _SHARED_PARAGRAPHS[key] = template
            while len(_SHARED_PARAGRAPHS) > SHARED_PARAGRAPHS_SIZE:
                _SHARED_PARAGRAPHS.popitem(last=False)
    paragraph = copy.copy(template)
    paragraph.style = style
    return paragraph


def _plain_paragraph(text: str, style: ParagraphStyle, bullet: str | None) -> Flowable:
    lines = _logical_lines(text)
    bold = style.fontName == FONT_BOLD
    simple = (all(line.strip() for line in lines) or len(lines) == 1) and not (
        bullet and len(lines) > 1
    )
    if simple and all(_is_fast(line, bold) and not has_rtl(line) for line in lines):
        return PlainParagraph(lines, style, bullet=bullet)
    return _text_paragraph(text, style, bullet)


def plain_bullet_list(
    items: Sequence[str], style: ParagraphStyle, *, shared: bool = False
) -> list[Flowable]:
    """`bullet_list`, each item a `plain_paragraph` (`shared`: see there) where it can be."""
    if len(items) == 1:
        return [plain_paragraph(items[0], style, shared=shared)]
    bulleted = _bulleted(style)
    return [plain_paragraph(item, bulleted, bullet=BULLET, shared=shared) for item in items]


@lru_cache(maxsize=64)
def _bulleted(style: ParagraphStyle) -> ParagraphStyle:
    """The style of a bulleted item of `style` (one per style: shared paragraphs find theirs)."""
    return ParagraphStyle(
        f"{style.name}_bullet", parent=style, leftIndent=style.leftIndent + 9, bulletIndent=0
    )


# -- key/value tables -------------------------------------------------------------------------

CELL_PADDING_X = 6.0
"""A reportlab table's default left and right cell padding, which `key_value_table` keeps."""
CELL_PADDING_TOP = 3.0
CELL_PADDING_BOTTOM = 4.0

Cell = list[PlainParagraph]


def _rows_fitting(heights: Sequence[float], available: float) -> int:
    """How many rows fit under the heading in `available` points, as a table splits by row
    (`heights`: the heading's, then each row's)."""
    used, fitting = heights[0], 0
    for height in heights[1:]:
        if used + height > available:
            break
        used += height
        fitting += 1
    return fitting


class KeyValueGrid(Flowable):  # type: ignore[misc]
    """`exports.pdf.key_value_table` made of `PlainParagraph`s, laid out and drawn without a
    reportlab `Table`: the same rows, heights, page splits and drawing, at a fraction of the cost.

    Rows are measured once (their height is the tallest cell's, padding included, as a table's);
    a split between rows repeats the heading row as `repeatRows=1` does. Where a row must be cut
    inside (no row fits under the heading) or a cell is not plain text, the reportlab table the
    grid stands for does the work (`_table`).
    """

    def __init__(
        self,
        heading: Cell,
        rows: Sequence[tuple[Cell, Cell]],
        *,
        width: float,
        label_width: float,
    ) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        self._heading = heading
        self._rows = list(rows)
        self._widths = (label_width, width - label_width)
        self._table: Table | None = None
        self._heights: list[float] | None = None
        self.width = width
        self._drawn: _KeptDrawing | None = None
        """Of a shared grid (`shared_key_value_table`), shared by its copies."""

    def _as_table(self) -> Table:
        """The reportlab table of the same rows, made of Paragraphs: it cuts a row inside exactly
        as `key_value_table` does (the parts of a cut Paragraph are broken again)."""
        if self._table is None:
            self._table = key_value_cells(
                _paragraph_of(self._heading[0]),
                [
                    ([_paragraph_of(p) for p in label], [_paragraph_of(p) for p in value])
                    for label, value in self._rows
                ],
                width=self.width,
                label_width=self._widths[0],
            )
        return self._table

    @staticmethod
    def _cell_height(cell: Cell, width: float) -> float | None:
        inner = width - 2 * CELL_PADDING_X
        total = 0.0
        for paragraph in cell:
            if paragraph._break(inner) is None:
                return None
            total += paragraph.wrap(inner, 72000)[1]
        return total + CELL_PADDING_TOP + CELL_PADDING_BOTTOM

    def _measure(self) -> list[float] | None:
        if self._heights is None:
            heights: list[float | None] = [self._cell_height(self._heading, self.width)]
            label_width, value_width = self._widths
            for label, value in self._rows:
                both = (
                    self._cell_height(label, label_width),
                    self._cell_height(value, value_width),
                )
                heights.append(None if None in both else max(h for h in both if h is not None))
            if None in heights:
                return None
            self._heights = [h for h in heights if h is not None]
        return self._heights

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        heights = self._measure() if self._table is None else None
        if heights is None:
            return self._as_table().wrap(availWidth, availHeight)  # type: ignore[no-any-return]
        self.height = sum(heights)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """Between rows when at least one fits under the heading, as a table splits by row."""
        heights = self._measure() if self._table is None else None
        if heights is None:
            return self._as_table().split(availWidth, availHeight)  # type: ignore[no-any-return]
        fitting = _rows_fitting(heights, availHeight)
        if fitting == len(self._rows):
            return [self]
        if not fitting:  # cut inside a row: exactly as the table would
            return self._as_table().split(availWidth, availHeight)  # type: ignore[no-any-return]
        return [self._part(self._rows[:fitting]), self._part(self._rows[fitting:])]

    def _part(self, rows: list[tuple[Cell, Cell]]) -> KeyValueGrid:
        label_width, value_width = self._widths
        return KeyValueGrid(self._heading, rows, width=self.width, label_width=label_width)

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        """Draw at x, y as `Flowable.drawOn` does, the origin moved by an operator inside q/Q
        rather than by the canvas's saved state (`draw` restores what it changes)."""
        if self._table is not None:
            super().drawOn(canvas, x, y, _sW)
            return
        x = self._hAlignAdjust(x, _sW)
        canvas._code.append(f"q 1 0 0 1 {fp_str(x)} {fp_str(y)} cm")
        self.canv = canvas
        try:
            self.draw()
        finally:
            del self.canv
        canvas._code.append("Q")

    def draw(self) -> None:
        if self._table is not None:
            self._table.drawOn(self.canv, 0, 0)
            return
        canv = self.canv
        kept = self._drawn
        if kept is None or not kept.seeded or canv._doc not in _SEEDED_DOCUMENTS:
            self._draw_grid(canv)
            return
        if kept.code is not None and _internal_names(canv, kept.fonts) == kept.names:
            canv._code.append(kept.code)
            return
        start = len(canv._code)
        self._draw_grid(canv)
        kept.code = "\n".join(canv._code[start:])
        kept.names = _internal_names(canv, kept.fonts)

    def _draw_grid(self, canv: Any) -> None:
        heights = self._heights or []
        label_width = self._widths[0]
        tops = [self.height]
        for height in heights:
            tops.append(tops[-1] - height)
        # The operators of the canvas calls a table makes (saved state, fills, rectangles,
        # stroke colour, line width, one path), written here.
        fill_mode = canv._fillMode
        out = ["q", cast(str, _fill_operator(HEADER_BACKGROUND))]
        out.append(f"n {fp_str(0, tops[1], self.width, heights[0])} re {PATH_OPS[0, 1, fill_mode]}")
        if len(tops) > 2:
            out.append(cast(str, _fill_operator(LABEL_BACKGROUND)))
            box = fp_str(0, tops[-1], label_width, tops[1] - tops[-1])
            out.append(f"n {box} re {PATH_OPS[0, 1, fill_mode]}")
        code: list[str] = []
        colour = self._cell_code(code, self._heading, 0.0, tops[0], None)
        for (label, value), top in zip(self._rows, tops[1:], strict=False):
            colour = self._cell_code(code, label, 0.0, top, colour)
            colour = self._cell_code(code, value, label_width, top, colour)
        out += [" ".join(code), _stroke_operator(GRID_COLOUR), f"{fp_str(0.5)} w"]
        path = grid_path(self.width, tops, (0.0, self.width))
        path += f" {fp_str(label_width, tops[1])} m {fp_str(label_width, tops[-1])} l"
        out += [path, PATH_OPS[1, 0, fill_mode], "Q"]
        canv._code.append("\n".join(out))

    def _cell_code(
        self, code: list[str], cell: Cell, left: float, top: float, colour: str | None
    ) -> str | None:
        """Add the operators drawing `cell`'s text in its colour (`colour` is the fill operator
        the operators so far left in force, which is returned updated)."""
        y = top - CELL_PADDING_TOP
        for paragraph in cell:
            text_colour = paragraph.style.textColor
            fill = _fill_operator(text_colour) or f"{fp_str(*text_colour.rgb())} rg"
            if fill != colour:
                colour = fill
                code.append(fill)
            y -= paragraph.height
            paragraph.code_at(self.canv, code, left + CELL_PADDING_X, y)
        return colour


class DataGrid(Flowable):  # type: ignore[misc]
    """`exports.pdf.data_table` of `PlainParagraph`s, laid out and drawn without a reportlab
    `Table`: the same row heights, page splits (between rows, the header row repeated) and
    drawing, as one text object per cell inside one saved state.

    Where a row must be cut inside (no row fits under the header) or a cell is not plain text,
    the reportlab table of the same texts does the work (`_as_table`).
    """

    def __init__(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        col_widths: Sequence[float],
        cells: tuple[list[PlainParagraph], list[list[PlainParagraph]]] | None = None,
    ) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        self._texts = (list(header), [list(row) for row in rows])
        self._widths = tuple(float(width) for width in col_widths)
        self.width = sum(self._widths)
        self._cells = cells if cells is not None else _data_cells(header, rows)
        self._table: Table | None = None
        self._heights: list[float] | None = None
        self._uncut: tuple[float, float] | None = None
        """The space in which the table found no row to cut, last asked."""

    def _as_table(self) -> Table:
        if self._table is None:
            header, rows = self._texts
            self._table = data_table(
                header, rows, col_widths=self._widths, paragraph=plain_paragraph
            )
        return self._table

    def _measure(self) -> list[float] | None:
        if self._heights is None and self._table is None and self._cells[0]:
            header, rows = self._cells
            heights: list[float] = []
            for row in (header, *rows):
                cells = [
                    KeyValueGrid._cell_height([cell], width)
                    for cell, width in zip(row, self._widths, strict=True)
                ]
                if None in cells:
                    return None
                heights.append(max(h for h in cells if h is not None))
            self._heights = heights
        return self._heights

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        heights = self._measure()
        if heights is None:
            return self._as_table().wrap(availWidth, availHeight)  # type: ignore[no-any-return]
        self.height = sum(heights)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """Between rows when at least one fits under the header, as the table splits by row."""
        heights = self._measure()
        # A table wider than the frame (into its padding) splits as usual when reportlab's
        # default allows it (`allowTableBoundsErrors`), else the table says what it does.
        wider = self.width > availWidth and rl_config.allowTableBoundsErrors != 1
        if heights is None or wider:
            return self._as_table().split(availWidth, availHeight)  # type: ignore[no-any-return]
        fitting = _rows_fitting(heights, availHeight)
        if fitting == len(heights) - 1:
            return [self]
        if not fitting:  # cut inside a row: exactly as the table would
            if self._uncut == (availWidth, availHeight):
                return []
            parts: list[Flowable] = self._as_table().split(availWidth, availHeight)
            if not parts:  # nothing cut here: on the next page the grid lays itself out
                self._table, self._uncut = None, (availWidth, availHeight)
            return parts
        return [self._part(0, fitting), self._part(fitting, len(heights) - 1)]

    def _part(self, start: int, end: int) -> DataGrid:
        header, rows = self._texts
        cells = (self._cells[0], self._cells[1][start:end])
        part = DataGrid(header, rows[start:end], col_widths=self._widths, cells=cells)
        if self._heights is not None:
            part._heights = [self._heights[0], *self._heights[1 + start : 1 + end]]
        return part

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        """Draw at x, y as the table would, with operators of its own inside one q/Q."""
        header, rows = self._cells
        fills = [[_fill_operator(cell.style.textColor) for cell in row] for row in (header, *rows)]
        background = _fill_operator(HEADER_BACKGROUND)
        unknown = background is None or any(None in row for row in fills)
        if self._table is not None or self._heights is None or unknown:
            self._as_table().drawOn(canvas, x, y, _sW)
            return
        operators = cast(list[list[str]], fills)
        x = self._hAlignAdjust(x, _sW)
        heights = self._heights
        tops = [y + self.height]
        for height in heights:
            tops.append(tops[-1] - height)
        code = [
            "q",
            cast(str, background),
            f"n {fp_str(x)} {fp_str(tops[1])} {fp_str(self.width)} {fp_str(heights[0])} re f*",
        ]
        colour: str | None = None
        for row, row_fills, top in zip((header, *rows), operators, tops, strict=False):
            left = x
            for cell, fill, width in zip(row, row_fills, self._widths, strict=True):
                if fill != colour:
                    colour = fill
                    code.append(fill)
                bottom = top - CELL_PADDING_TOP - cell.height
                cell.code_at(canvas, code, left + CELL_PADDING_X, bottom)
                left += width
        right, bottom = x + self.width, tops[-1]
        code += ["1 J 1 j", _stroke_operator(GRID_COLOUR), ".5 w", "n"]
        code += [f"{fp_str(x)} {fp_str(t)} m {fp_str(right)} {fp_str(t)} l" for t in tops]
        left = x
        for width in (0.0, *self._widths):
            left += width
            code.append(f"{fp_str(left)} {fp_str(tops[0])} m {fp_str(left)} {fp_str(bottom)} l")
        code += ["S", "Q"]
        canvas._code.append(" ".join(code))

    def draw(self) -> None:
        self.drawOn(self.canv, 0, 0)


def _data_cells(
    header: Sequence[str], rows: Sequence[Sequence[str]], shared_columns: Collection[int] = ()
) -> tuple[list[PlainParagraph], list[list[PlainParagraph]]]:
    """The cells of a `DataGrid` as `data_table` makes them; none when one is not plain. The
    header and the `shared_columns` are the map's or the desk's words (`plain_paragraph`)."""
    styles = document_styles()
    head = [plain_paragraph(text, styles.cell_label, shared=True) for text in header]
    body = [
        [
            plain_paragraph(text, styles.cell, shared=column in shared_columns)
            for column, text in enumerate(row)
        ]
        for row in rows
    ]
    every = [*head, *(cell for row in body for cell in row)]
    if not all(isinstance(cell, PlainParagraph) for cell in every):
        return [], []
    return cast(list[PlainParagraph], head), cast(list[list[PlainParagraph]], body)


def plain_data_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    col_widths: Sequence[float],
    shared_columns: Collection[int] = (),
) -> Flowable:
    """`data_table` of plain text cells, drawn as a `DataGrid` (as the table when a cell is
    not plain Latin text). The header, and the cells of `shared_columns`, are the map's or the
    desk's words, never personal data (`plain_paragraph(shared=True)`)."""
    if len(header) != len(col_widths):
        raise ValueError("a data table needs one width per column")
    cells = _data_cells(header, rows, shared_columns)
    grid = DataGrid(header, rows, col_widths=col_widths, cells=cells)
    return grid if grid._cells[0] else grid._as_table()


class Gap(Spacer):  # type: ignore[misc]
    """A `Spacer` that draws nothing, not even a saved and restored canvas state."""

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        return


@dataclass
class _KeptDrawing:
    """What a shared grid keeps of its drawing: whether it can be kept across documents (every
    character has a seeded code, in the two fonts), and once drawn in a seeded document, its
    operators with the internal names its fonts had there (asking for them again registers the
    fonts with the next document, as drawing does)."""

    seeded: bool
    fonts: tuple[str, ...]
    code: str | None = None
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, grid: KeyValueGrid) -> _KeptDrawing:
        cells = [*grid._heading, *(p for label, value in grid._rows for p in (*label, *value))]
        texts = [line for p in cells for line in (*(p._broken or ()), p._bullet or "")]
        fonts = {p.style.fontName for p in cells} | {
            p.style.bulletFontName for p in cells if p._bullet
        }
        seeded = fonts <= {FONT_REGULAR, FONT_BOLD} and all(
            _SEEDED_CODES.issuperset(map(ord, text)) for text in texts
        )
        return cls(seeded, tuple(sorted(fonts)))


def _internal_names(canv: Any, fonts: Sequence[str]) -> tuple[str, ...]:
    return tuple(pdfmetrics.getFont(name).getSubsetInternalName(0, canv._doc) for name in fonts)


def shared_key_value_table(
    heading: str,
    rows: Sequence[tuple[str, str | Sequence[str]]],
    *,
    width: float,
    label_width: float = 45 * mm,
) -> Flowable:
    """`plain_key_value_table` of words that are no one's personal data (the map's, the
    desk's), laid out once per process for its text and width and, in documents whose canvas
    called `seed_fonts`, drawn once: every report shows each category's processing."""
    key = (
        heading,
        tuple((label, value if isinstance(value, str) else tuple(value)) for label, value in rows),
        width,
        label_width,
    )
    with _LINES_LOCK:
        template = _SHARED_GRIDS.get(key)
        if template is not None:
            _SHARED_GRIDS.move_to_end(key)
            return copy.copy(template)  # its layout and its kept drawing shared
    made = plain_key_value_table(heading, rows, width=width, label_width=label_width)
    if not isinstance(made, KeyValueGrid) or made._measure() is None:
        return made
    made._drawn = _KeptDrawing.of(made)
    with _LINES_LOCK:
        _SHARED_GRIDS[key] = made
        while len(_SHARED_GRIDS) > SHARED_GRIDS_SIZE:
            _SHARED_GRIDS.popitem(last=False)
    return copy.copy(made)


def _paragraph_of(paragraph: PlainParagraph) -> Flowable:
    return _text_paragraph("\n".join(paragraph._logical), paragraph.style, paragraph._bullet)


def plain_key_value_table(
    heading: str,
    rows: Sequence[tuple[str, str | Sequence[str]]],
    *,
    width: float,
    label_width: float = 45 * mm,
    shared_labels: bool = False,
    shared_heading: bool | None = None,
) -> Flowable:
    """`key_value_table` of plain text, a value given as a sequence being a bullet list, drawn
    as a `KeyValueGrid` when every cell is a `PlainParagraph`, else as the table.
    `shared_labels`: the labels are the map's or the desk's words (`plain_paragraph`), and the
    heading too unless `shared_heading` says otherwise."""
    styles = document_styles()
    shared = shared_labels if shared_heading is None else shared_heading
    header = plain_paragraph(heading, styles.cell_header, shared=shared)
    cells: list[tuple[Flowable | list[Flowable], Flowable | list[Flowable]]] = [
        (
            plain_paragraph(label, styles.cell_label, shared=shared_labels),
            plain_paragraph(value, styles.cell)
            if isinstance(value, str)
            else plain_bullet_list(value, styles.cell),
        )
        for label, value in rows
    ]
    as_lists = [
        (
            [label] if isinstance(label, Flowable) else label,
            [value] if isinstance(value, Flowable) else value,
        )
        for label, value in cells
    ]
    plain = isinstance(header, PlainParagraph) and all(
        isinstance(p, PlainParagraph) for label, value in as_lists for p in (*label, *value)
    )
    if not plain:  # other scripts: the table, as `key_value_table` makes it
        return key_value_table(
            heading,
            [(k, v if isinstance(v, str) else bullet_list(list(v), styles.cell)) for k, v in rows],
            width=width,
            label_width=label_width,
        )
    grid_rows = [(cast(Cell, label), cast(Cell, value)) for label, value in as_lists]
    return KeyValueGrid(
        [cast(PlainParagraph, header)], grid_rows, width=width, label_width=label_width
    )


__all__ = [
    "DataGrid",
    "Gap",
    "KeyValueGrid",
    "PlainParagraph",
    "SeededCanvas",
    "plain_bullet_list",
    "plain_data_table",
    "plain_key_value_table",
    "plain_paragraph",
    "seed_fonts",
    "shared_key_value_table",
]
