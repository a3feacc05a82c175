"""A grid of pre-wrapped plain-text cells, drawn cheaply: the access report's long data tables.

A reportlab `Table` keeps a style object per cell, measures its rows again at every split and
draws each line of each cell as its own text object; for a learner with tens of thousands of
cells that is most of the report's time. `TextGrid` looks the same (header row on a shaded
background, bold header, a thin grid around and between every cell, text at the top of its cell)
but knows its row heights from their line counts, splits by slicing, and draws a whole grid as
one background, one text object and one path.

Cells are plain strings, already wrapped to their column ("\\n" between lines), each line in the
order it is drawn; they are drawn as they are, never read as markup, each line in its font runs
(`exports.script_text`).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import PATH_OPS
from reportlab.platypus.flowables import Flowable

from exports.pdf import FONT_BOLD, FONT_REGULAR, GRID_COLOUR, HEADER_BACKGROUND
from exports.script_text import _is_fast, font_runs

FONT_SIZE = 8.5
LEADING = 11
PADDING = 5
"""Left and right padding of a cell."""
TOP_PADDING = 3
BOTTOM_PADDING = 4
GRID_WIDTH = 0.5

Lines = list[str]
Row = list[Lines]

PIECES_CACHE_SIZE = 20000
"""Distinct lines whose text operators are remembered per document (dates, devices, pages)."""

_Pieces = tuple[tuple[tuple[str, int], str], ...]
_PIECES: weakref.WeakKeyDictionary[Any, dict[str, dict[str, _Pieces]]] = weakref.WeakKeyDictionary()
"""Per PDF document and font: each distinct line as its ((font, subset), `(...) Tj`) pieces.

A subset assignment never changes within a document, so a line's operators can be reused; the
cache dies with the document (subsets are numbered per document)."""


_HEADER_FILL = f"{fp_str(HEADER_BACKGROUND.rgb())} rg"
_TEXT_FILL = f"{fp_str(colors.black.rgb())} rg"
_GRID_STROKE = f"{fp_str(GRID_COLOUR.rgb())} RG"
_GRID_LINE_WIDTH = f"{fp_str(GRID_WIDTH)} w"
"""The operators reportlab's canvas writes for the grid's colours and line width."""


def grid_path(width: float, tops: Sequence[float], lefts: Sequence[float]) -> str:
    """The path of a grid's lines, as the canvas writes it: one across the whole `width` at each
    of `tops`, then one down from the first top to the last at each of `lefts`."""
    path = ["n"]
    path += [f"{fp_str(0, y)} m {fp_str(width, y)} l" for y in tops]
    path += [f"{fp_str(x, tops[0])} m {fp_str(x, tops[-1])} l" for x in lefts]
    return " ".join(path)


def _row_height(row: Row) -> float:
    return LEADING * max((len(lines) for lines in row), default=0) + TOP_PADDING + BOTTOM_PADDING


class TextGrid(Flowable):  # type: ignore[misc]
    """A table of plain-text cells with a header row repeated on every page it spans."""

    def __init__(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        col_widths: Sequence[float],
        _split: tuple[Row, list[Row], list[float]] | None = None,
    ) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        self.col_widths = [float(width) for width in col_widths]
        if _split is not None:
            self._header, self._rows, self._heights = _split
        else:
            self._header = [cell.split("\n") for cell in header]
            self._rows = [[cell.split("\n") for cell in row] for row in rows]
            self._heights = [_row_height(row) for row in self._rows]
        self._header_height = _row_height(self._header)
        self.width = sum(self.col_widths)
        self.height = self._header_height + sum(self._heights)

    @property
    def header(self) -> Row:
        """The lines of each header cell."""
        return self._header

    @property
    def rows(self) -> list[Row]:
        """The lines of each cell, row by row (header not included)."""
        return self._rows

    def _part(self, rows: list[Row], heights: list[float]) -> TextGrid:
        return TextGrid((), (), col_widths=self.col_widths, _split=(self._header, rows, heights))

    # -- layout ------------------------------------------------------------------------------

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        """The size known since construction: nothing is measured again at each page."""
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """The rows that fit under the header, then the rest under the header again.

        Rows are kept whole, as a reportlab table with `repeatRows=1` keeps them, except one
        that could not fit whole on any page (or that starts a page and still does not fit):
        it is cut between its lines, so a cell taller than a page goes on over the next pages
        instead of being lost. Unlike reportlab's `splitInRow`, a row that fits on the next page
        goes there whole, leaving no stray header and line or two at the foot of this one.
        [] when nothing fits: the next frame is tried.
        """
        used = self._header_height
        if used > availHeight:
            return []
        fitting = 0
        for height in self._heights:
            if used + height > availHeight:
                break
            used += height
            fitting += 1
        rows, heights = self._rows, self._heights
        if fitting == len(rows):
            return [self]
        lines = int((availHeight - used - TOP_PADDING - BOTTOM_PADDING) // LEADING)
        if lines >= 1 and self._cut(heights[fitting], first=not fitting):
            row = rows[fitting]
            top, rest = [cell[:lines] for cell in row], [cell[lines:] for cell in row]
            return [
                self._part([*rows[:fitting], top], [*heights[:fitting], _row_height(top)]),
                self._part(
                    [rest, *rows[fitting + 1 :]], [_row_height(rest), *heights[fitting + 1 :]]
                ),
            ]
        if not fitting:
            return []
        return [
            self._part(rows[:fitting], heights[:fitting]),
            self._part(rows[fitting:], heights[fitting:]),
        ]

    def _cut(self, height: float, *, first: bool) -> bool:
        """Whether a row of `height` that does not fit here is cut rather than moved on."""
        frame = getattr(self, "_frame", None)
        if frame is None:  # split outside a document: cut only what cannot be moved on
            return first
        page = frame._height - frame._topPadding - frame._bottomPadding
        return self._header_height + height > page or (first and bool(frame._atTop))

    # -- drawing -----------------------------------------------------------------------------

    def draw(self) -> None:
        """Header background, then the text, then the grid over it (a reportlab table's order).

        The operators are those of the canvas calls a table makes (saved state, fill colour,
        rectangle, stroke colour, line width, cap and join, one path), written here: a report
        draws dozens of grids, each with a segment per row and column."""
        canv = self.canv
        widths = self.col_widths
        lefts = [sum(widths[:index]) for index in range(len(widths))]
        tops = [self.height, self.height - self._header_height]
        for height in self._heights:
            tops.append(tops[-1] - height)
        header = f"n {fp_str(0, tops[1], self.width, self._header_height)} re "
        code = ["q", _HEADER_FILL, header + PATH_OPS[0, 1, canv._fillMode], _TEXT_FILL]
        code.append(self._text(canv, lefts, tops))
        code += [_GRID_STROKE, _GRID_LINE_WIDTH, "1 J", "1 j"]
        path = grid_path(self.width, tops, [*lefts, self.width])
        code += [path, PATH_OPS[1, 0, canv._fillMode], "Q"]
        canv._code.append("\n".join(code))

    def _text(self, canv: Any, lefts: list[float], tops: list[float]) -> str:
        """Every line of every cell in one text object, the font set only when it changes."""
        caches = _PIECES.get(canv._doc)
        if caches is None:
            caches = _PIECES[canv._doc] = {FONT_BOLD: {}, FONT_REGULAR: {}}
        names: dict[tuple[str, int], str] = {}
        current: tuple[str, int] | None = None
        code = ["BT"]
        append = code.append
        starts = [f"1 0 0 1 {fp_str(left + PADDING)} " for left in lefts]
        for index, row in enumerate([self._header, *self._rows]):
            font_name = FONT_BOLD if index == 0 else FONT_REGULAR
            cache = caches[font_name]
            first_line = tops[index] - TOP_PADDING - FONT_SIZE
            depth = max((len(lines) for lines in row), default=0)
            ys = [fp_str(first_line - LEADING * number) for number in range(depth)]
            for start, lines in zip(starts, row, strict=True):
                for line, y in zip(lines, ys, strict=False):
                    pieces = cache.get(line)
                    if pieces is None:
                        if len(cache) >= PIECES_CACHE_SIZE:
                            cache.clear()
                        pieces = cache[line] = _pieces(canv, font_name, line)
                    # "T*" ends the line as reportlab's own text lines do: extractors break there.
                    if len(pieces) == 1 and pieces[0][0] == current:
                        append(f"{start}{y} Tm {pieces[0][1]} T*")
                        continue
                    append(f"{start}{y} Tm")
                    for font, operator in pieces:
                        if font != current:
                            current = font
                            if font not in names:
                                names[font] = _font_operator(canv, *font)
                            append(names[font])
                        append(operator)
                    append("T*")
        append("ET")
        return " ".join(code)


_SUBSET_ZERO: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, dict[int, int]]]] = (
    weakref.WeakKeyDictionary()
)
"""Per PDF document and font: the characters already given a code in the font's first subset,
as a `str.translate` table, with the number of assignments it was made from."""


def _first_subset_codes(font: Any, doc: Any) -> dict[int, int] | None:
    """The translate table of the characters `font` already drew in `doc` in its first subset
    (a no-break space as a space, as reportlab's `splitString` draws it)."""
    state = font.state.get(doc)
    if state is None:
        return None
    tables = _SUBSET_ZERO.get(doc)
    if tables is None:
        tables = _SUBSET_ZERO[doc] = {}
    assignments = state.assignments
    made = tables.get(font.fontName)
    if made is None or made[0] != len(assignments):
        table = {code: n for code, n in assignments.items() if n < 256}
        if 32 in table:
            table[0xA0] = table[32]
        made = tables[font.fontName] = (len(assignments), table)
    return made[1]


def _pieces(canv: Any, font_name: str, line: str) -> _Pieces:
    """Split `line` into its font runs, then each run into the subsets of its embedded font, as
    reportlab's text objects do (one run in `font_name` for Latin text).

    A line of the primary font whose characters all have a code already in the first subset is
    encoded with one `str.translate`: the codes reportlab's `splitString` gives them."""
    if font_name in (FONT_REGULAR, FONT_BOLD) and _is_fast(line, font_name == FONT_BOLD):
        font = pdfmetrics.getFont(font_name)
        ascii_codes = font._asciiReadable and canv._doc in font.state
        if ascii_codes and line.isascii() and (not line or min(line) >= " "):
            # ASCII has its own codes in the first subset of a readable font's every document.
            return (((font_name, 0), f"({canv._escape(line.encode('latin-1'))}) Tj"),)
        table = _first_subset_codes(font, canv._doc)
        if table is not None and table.keys() >= set(map(ord, line)):
            encoded = line.translate(table).encode("latin-1")
            return (((font_name, 0), f"({canv._escape(encoded)}) Tj"),)
    return tuple(
        ((run_font, subset), f"({canv._escape(text)}) Tj")
        for run_font, run in font_runs(line, bold=font_name == FONT_BOLD)
        for subset, text in pdfmetrics.getFont(run_font).splitString(run, canv._doc)
    )


def _font_operator(canv: Any, font_name: str, subset: int) -> str:
    name = pdfmetrics.getFont(font_name).getSubsetInternalName(subset, canv._doc)
    return f"{name} {fp_str(FONT_SIZE)} Tf {fp_str(LEADING)} TL"


__all__ = ["TextGrid"]
