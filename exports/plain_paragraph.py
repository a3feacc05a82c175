"""A paragraph of plain Latin text laid out and drawn without reportlab's Paragraph machinery.

The access report holds some 550 short paragraphs (labels, values, headings) in about 30 small
tables; making, breaking and drawing a reportlab `Paragraph` for each was most of a typical
report's time. `PlainParagraph` breaks its text into the very lines a `Paragraph` of the same
style and width gets (it asks one, once per process for each text, style and width: labels,
the map's words, dates and devices come back in every report), splits between lines as a
`Paragraph` does, and draws all its lines as one text object whose operators are kept per
document. Text that needs more than the style's font (other scripts, right-to-left runs) or
whose lines a Paragraph would not break alone is left to `safe_paragraph`.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph
from reportlab.platypus.flowables import Flowable

from exports.pdf import _logical_lines, _text_paragraph
from exports.script_text import FONT_BOLD, _is_fast, has_rtl, runs_markup
from exports.text_grid import _pieces

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

    def _break(self, width: float) -> tuple[str, ...] | None:
        if self._broken is not None and self._broken_for in (None, width):
            return self._broken
        style = self.style
        inner = width - style.leftIndent - style.rightIndent
        found: list[str] = []
        for number, line in enumerate(self._logical):
            bullet = self._bullet if number == 0 else None
            lines = _paragraph_lines(line, style, width, bullet)
            if lines is None:
                return None
            found += lines
        if inner <= 0:
            return None
        self._broken, self._broken_for = tuple(found), width
        return self._broken

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        lines = self._break(availWidth)
        if lines is None:
            return self._as_paragraph().wrap(availWidth, availHeight)  # type: ignore[no-any-return]
        self.width = availWidth
        self.height = len(lines) * self.style.leading
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """As a Paragraph splits (no orphan: at least two lines, or nothing, stay here)."""
        lines = self._break(availWidth)
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
        first.keepWithNext = 0
        return [first, rest]

    def _as_paragraph(self) -> Flowable:
        if self._paragraph is None:
            self._paragraph = _text_paragraph("\n".join(self._logical), self.style, self._bullet)
        return self._paragraph

    def draw(self) -> None:
        if self._paragraph is not None:
            self._paragraph.drawOn(self.canv, 0, 0)
            return
        lines = self._broken or ()
        if not lines:
            return
        canv = self.canv
        style = self.style
        baseline = self.height - style.fontSize  # where a Paragraph puts its first line
        canv.setFillColor(style.textColor)
        code: list[str] = []
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
                f"1 0 0 1 {fp_str(style.bulletIndent)} {fp_str(baseline)} Tm",
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
            f"1 0 0 1 {fp_str(style.leftIndent)} {fp_str(baseline)} Tm",
            *body,
            "ET",
        ]
        canv._code.append(" ".join(code))

    def _text(
        self, canv: Any, font_name: str, size: float, lines: Sequence[str], *, ends: bool = True
    ) -> list[str]:
        caches = _OPERATORS.get(canv._doc)
        if caches is None:
            caches = _OPERATORS[canv._doc] = {}
        cache = caches.setdefault(font_name, {})
        leading = fp_str(self.style.leading)
        code: list[str] = []
        current: tuple[str, int] | None = None
        for line in lines:
            pieces = cache.get(line)
            if pieces is None:
                pieces = cache[line] = _pieces(canv, font_name, line)
            for font, operator in pieces:
                if font != current:
                    current = font
                    name = pdfmetrics.getFont(font[0]).getSubsetInternalName(font[1], canv._doc)
                    code.append(f"{name} {fp_str(size)} Tf {leading} TL")
                code.append(operator)
            if ends:
                code.append("T*")
        return code


def plain_paragraph(text: str, style: ParagraphStyle, bullet: str | None = None) -> Flowable:
    """Build a paragraph printing `text` as typed, as `safe_paragraph` does, drawn cheaply when
    it is Latin text in the style's font."""
    lines = _logical_lines(text)
    bold = style.fontName == FONT_BOLD
    simple = (all(line.strip() for line in lines) or len(lines) == 1) and not (
        bullet and len(lines) > 1
    )
    if simple and all(_is_fast(line, bold) and not has_rtl(line) for line in lines):
        return PlainParagraph(lines, style, bullet=bullet)
    return _text_paragraph(text, style, bullet)


def plain_bullet_list(items: Sequence[str], style: ParagraphStyle) -> list[Flowable]:
    """`bullet_list`, each item a `plain_paragraph` where it can be."""
    if len(items) == 1:
        return [plain_paragraph(items[0], style)]
    bulleted = ParagraphStyle(
        f"{style.name}_bullet", parent=style, leftIndent=style.leftIndent + 9, bulletIndent=0
    )
    return [plain_paragraph(item, bulleted, bullet=BULLET) for item in items]


__all__ = ["PlainParagraph", "plain_bullet_list", "plain_paragraph"]
