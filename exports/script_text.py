"""Text in any script, legible in our PDFs: the one preparation every document's text goes through.

A person's name may be written in any script, and an Art. 15 copy must show it as typed. Three
steps, used by the paragraphs (`exports.pdf`), the access report's text grid and the page footers:

1. `printable`: characters that would be invisible, or that no embedded font can draw (emoji, for
   one), are shown as `[U+XXXX]`, so that nothing hides in a copy and no empty box is drawn.
2. `display_lines`: a text is broken into lines in its logical order, then each line that holds
   right-to-left letters is shaped (Arabic letters joined, as presentation forms) and put in
   visual order (Unicode bidirectional algorithm, the base direction taken from the text).
3. `font_runs`: a line is cut into runs, each drawn in the first font of the embedded family that
   has its glyphs: DejaVu Sans (Latin, Greek, Cyrillic...), Noto Sans Arabic, Hebrew, Devanagari
   and Thai, then Droid Sans Fallback (Chinese, Japanese, Korean).

Latin text needs none of this: it takes a fast path (one run in DejaVu, nothing reordered), and
the fallback fonts are not even loaded until a text needs one of them.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from arabic_reshaper import ArabicReshaper
from bidi import get_base_level, get_display
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace, makeToUnicodeCMap

FONT_DIR = Path(__file__).with_name("fonts")
FONT_REGULAR = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

_ARABIC = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_HEBREW = ((0x0590, 0x05FF), (0xFB1D, 0xFB4F))


@dataclass(frozen=True)
class _Face:
    """One font of the family, in its two weights, and the blocks where it wins over DejaVu."""

    regular: str
    bold: str
    regular_file: str
    bold_file: str
    preferred: tuple[tuple[int, int], ...] = ()


FALLBACK_FACES: tuple[_Face, ...] = (
    _Face(
        "NotoSansArabic",
        "NotoSansArabic-Bold",
        "NotoSansArabic-Regular.ttf",
        "NotoSansArabic-Bold.ttf",
        _ARABIC,
    ),
    _Face(
        "NotoSansHebrew",
        "NotoSansHebrew-Bold",
        "NotoSansHebrew-Regular.ttf",
        "NotoSansHebrew-Bold.ttf",
        _HEBREW,
    ),
    _Face(
        "NotoSansDevanagari",
        "NotoSansDevanagari-Bold",
        "NotoSansDevanagari-Regular.ttf",
        "NotoSansDevanagari-Bold.ttf",
    ),
    _Face("NotoSansThai", "NotoSansThai-Bold", "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"),
    # Chinese, Japanese and Korean; no bold weight: bold CJK is drawn regular.
    _Face(
        "DroidSansFallback", "DroidSansFallback", "DroidSansFallback.ttf", "DroidSansFallback.ttf"
    ),
)
"""The embedded fonts tried, in order, for a character DejaVu Sans cannot draw (TrueType only:
reportlab cannot embed CFF outlines)."""

HIDDEN_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200d\u200e\u200f\u202a-\u202e"
    "\u2060\u2066-\u2069\ufeff]"
)
"""Control characters, zero-width characters and bidirectional formatting marks: invisible when
drawn, and an override (U+202E) would make a copied value read backwards."""

_RTL_CLASSES = frozenset({"R", "AL"})
_RESHAPER = ArabicReshaper(configuration={"delete_harakat": False})
"""Joins Arabic letters into their contextual forms; keeps the vowel marks (they are data)."""


def register_fonts() -> None:
    """Register DejaVu Sans, regular and bold, with reportlab (once per process)."""
    _register_primary()


@cache
def _register_primary() -> None:
    pdfmetrics.registerFont(_kept_subsets(TTFont(FONT_REGULAR, str(FONT_DIR / "DejaVuSans.ttf"))))
    pdfmetrics.registerFont(_kept_subsets(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf"))))
    # <b> inside our own markup (labels we write, never data) picks the bold face.
    _map_family(FONT_REGULAR, FONT_BOLD)


SUBSETS_KEPT = 64
"""Embedded font subsets kept per process, made and compressed once for their characters."""
_SUBSETS: OrderedDict[tuple[str, tuple[int, ...]], tuple[bytes, bytes]] = OrderedDict()
_SUBSETS_LOCK = threading.Lock()


def _kept_subsets(font: TTFont) -> TTFont:
    """`font`, whose subsets are embedded as reportlab embeds them, each made and compressed
    once per process: documents in the same words embed the same subsets (see
    `exports.plain_paragraph.seed_fonts`), which cost a report as much as laying out a page."""
    face = font.face
    face.makeSubset = lambda subset: _subset(face, subset)[0]
    face.addSubsetObjects = partial(_add_subset_objects, face)
    font.addObjects = partial(_add_font_objects, font)
    return font


def _subset(face: Any, subset: list[int]) -> tuple[bytes, bytes]:
    """The subset's font file, and that file compressed, made once."""
    key = (face.filename, tuple(subset))
    with _SUBSETS_LOCK:
        kept = _SUBSETS.get(key)
        if kept is not None:
            _SUBSETS.move_to_end(key)
            return kept
    content = TTFontFace.makeSubset(face, subset)
    made = (content, zlib.compress(content))
    with _SUBSETS_LOCK:
        _SUBSETS[key] = made
        while len(_SUBSETS) > SUBSETS_KEPT:
            _SUBSETS.popitem(last=False)
    return made


def _add_subset_objects(face: Any, doc: Any, fontname: str, subset: list[int]) -> Any:
    """reportlab's `TTFontFace.addSubsetObjects`, its font file given already compressed (a
    stream that names its filter is written as it is): the same objects, the same bytes."""
    descriptor = TTFontFace.addSubsetObjects(face, doc, fontname, subset)
    if doc.compression:
        stream = doc.idToObject[f"fontFile:{face.filename}({fontname})"]
        stream.content = _subset(face, subset)[1]
        stream.filters = None
        stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
    return descriptor


class _Formatted(pdfdoc.PDFObject):  # type: ignore[misc]
    """A PDF object whose bytes were formatted already."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def format(self, document: Any) -> bytes:
        return self.content


_SUBSET_OBJECTS: OrderedDict[tuple[str, str, tuple[int, ...], bool], tuple[bytes, bytes]] = (
    OrderedDict()
)


def _subset_objects(
    font: TTFont, base_font: str, subset: tuple[int, ...], document: Any
) -> tuple[bytes, bytes]:
    """A subset's widths array as reportlab formats it, and its ToUnicode map compressed, made
    once per process (each is a few hundred numbers a document formatted again)."""
    multiline = bool(pdfdoc.rl_config.pdfMultiLine)
    key = (font.face.filename, base_font, subset, multiline)
    with _SUBSETS_LOCK:
        kept = _SUBSET_OBJECTS.get(key)
        if kept is not None:
            _SUBSET_OBJECTS.move_to_end(key)
            return kept
    widths = pdfdoc.PDFArray(map(font.face.getCharWidth, subset)).format(document)
    cmap = zlib.compress(makeToUnicodeCMap(base_font, subset).encode("utf8"))
    with _SUBSETS_LOCK:
        _SUBSET_OBJECTS[key] = (widths, cmap)
        while len(_SUBSET_OBJECTS) > SUBSETS_KEPT:
            _SUBSET_OBJECTS.popitem(last=False)
    return widths, cmap


def _add_font_objects(font: TTFont, doc: Any) -> None:
    """reportlab's `TTFont.addObjects`, each subset's widths and ToUnicode map kept formatted
    and compressed (`_subset_objects`): the same objects, the same bytes."""
    state = font.state.get(doc)
    subsets = [tuple(subset) for subset in state.subsets] if state is not None else []
    TTFont.addObjects(font, doc)
    if not doc.compression:
        return
    fonts = doc.idToObject["BasicFonts"].dict
    for number, subset in enumerate(subsets):
        name = f"{state.internalName}+{number}"
        pdf_font = fonts[name]
        base_font = pdf_font.BaseFont
        widths, cmap = _subset_objects(font, base_font, subset, doc)
        pdf_font.Widths = _Formatted(widths)
        cmap_name = f"toUnicodeCMap:{base_font}"
        stream = doc.idToObject[cmap_name]
        stream.content = cmap
        stream.filters = None
        stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
        file_name = f"fontFile:{font.face.filename}({base_font})"
        descriptor_name = f"fontDescriptor:{base_font}"
        kept = (font.face.filename, base_font, subset)
        _keep_formatted(doc, name, ("font", name, *kept), (cmap_name, descriptor_name))
        _keep_formatted(doc, cmap_name, ("cmap", *kept), ())
        _keep_formatted(doc, descriptor_name, ("descriptor", *kept), (file_name,))
        _keep_formatted(doc, file_name, ("file", *kept), ())


FORMATTED_KEPT = 4 * SUBSETS_KEPT
_FORMATTED: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()


class _KeptObject(pdfdoc.PDFObject):  # type: ignore[misc]
    """A document's font object, formatted once per process for what it is (`key`) and the
    numbers of the objects it refers to (`refs`, by name): a seeded document's fonts are the
    same objects in every document, and formatting them was a third of writing a certificate."""

    __RefOnly__ = 1

    def __init__(self, made: Any, key: tuple[Any, ...], refs: tuple[str, ...]) -> None:
        self.made, self.key, self.refs = made, key, refs

    def format(self, document: Any) -> bytes:
        numbers = tuple(document.idToObjectNumberAndVersion[name] for name in self.refs)
        key = (self.key, numbers, bool(pdfdoc.rl_config.pdfMultiLine))
        with _SUBSETS_LOCK:
            kept = _FORMATTED.get(key)
            if kept is not None:
                _FORMATTED.move_to_end(key)
                return kept
        made: bytes = self.made.format(document)
        with _SUBSETS_LOCK:
            _FORMATTED[key] = made
            while len(_FORMATTED) > FORMATTED_KEPT:
                _FORMATTED.popitem(last=False)
        return made


def _keep_formatted(doc: Any, name: str, key: tuple[Any, ...], refs: tuple[str, ...]) -> None:
    """Have `doc` write its object `name` as a `_KeptObject` (unencrypted documents only: an
    encrypted one encodes its strings and streams per document)."""
    if not isinstance(doc.encrypt, pdfdoc.NoEncryption):
        return
    kept = _KeptObject(doc.idToObject[name], key, refs)
    setattr(kept, "__InternalName__", name)  # noqa: B010 (reportlab's name, not mangled)
    doc.idToObject[name] = kept


def _map_family(regular: str, bold: str) -> None:
    addMapping(regular, 0, 0, regular)
    addMapping(regular, 1, 0, bold)
    addMapping(regular, 0, 1, regular)
    addMapping(regular, 1, 1, bold)


@dataclass(frozen=True)
class _FontTable:
    """For one weight: the characters DejaVu draws alone, and the font of every other one."""

    primary: str
    fast: frozenset[int]
    font_of: dict[int, str]


def _in(code: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@cache
def _fast_codes(bold: bool) -> frozenset[int]:
    """The characters of DejaVu that need no reordering and no other font: the fast path."""
    _register_primary()
    font = pdfmetrics.getFont(FONT_BOLD if bold else FONT_REGULAR)
    preferred = [r for face in FALLBACK_FACES for r in face.preferred]
    return frozenset(
        code
        for code in font.face.charToGlyph
        if not _in(code, preferred) and unicodedata.bidirectional(chr(code)) not in _RTL_CLASSES
    )


@cache
def _font_table(bold: bool) -> _FontTable:
    """Load the fallback fonts (first use only) and say which font draws each character."""
    _register_primary()
    primary = FONT_BOLD if bold else FONT_REGULAR
    font_of: dict[int, str] = {}
    faces: list[tuple[str, dict[int, int], tuple[tuple[int, int], ...]]] = []
    for face in FALLBACK_FACES:
        for name, filename in ((face.regular, face.regular_file), (face.bold, face.bold_file)):
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))
        _map_family(face.regular, face.bold)
        name = face.bold if bold else face.regular
        faces.append((name, pdfmetrics.getFont(name).face.charToGlyph, face.preferred))
    for name, codes, preferred in faces:
        for code in codes:
            if preferred and _in(code, preferred):
                font_of.setdefault(code, name)
    for code in pdfmetrics.getFont(primary).face.charToGlyph:
        font_of.setdefault(code, primary)
    for name, codes, _ in faces:
        for code in codes:
            font_of.setdefault(code, name)
    if bold:  # a character the bold weights lack is drawn in the regular one
        for code, name in _font_table(False).font_of.items():
            font_of.setdefault(code, name)
    return _FontTable(primary, _fast_codes(bold), font_of)


def _is_fast(text: str, bold: bool = False) -> bool:
    return text.isascii() or _fast_codes(bold).issuperset(map(ord, text))


def _code_point(char: str) -> str:
    return f"[U+{ord(char):04X}]"


def printable(text: str) -> str:
    """Return `text` with a tab as a space and every character that would be invisible, or that
    no embedded font draws (emoji...), as [U+XXXX]; line breaks are kept."""
    text = HIDDEN_CHARACTERS.sub(lambda found: _code_point(found.group()), text.replace("\t", " "))
    if _is_fast(text):
        return text
    drawn = _font_table(False).font_of
    return "".join(
        char if ord(char) in drawn or char in "\n\r" else _code_point(char) for char in text
    )


def has_rtl(text: str) -> bool:
    """Whether `text` holds a right-to-left letter (Hebrew, Arabic...)."""
    return not _is_fast(text) and any(
        unicodedata.bidirectional(char) in _RTL_CLASSES for char in text
    )


def visual_lines(lines: Sequence[str]) -> list[str]:
    """Return logical `lines` of one text in the order they are drawn, left to right.

    Lines without a right-to-left letter are returned as they are. The others are shaped and
    reordered, all with the base direction of the whole text (its first strong letter). A vowel
    mark ends up before its letter, where Noto Sans Arabic and Hebrew, drawn without a shaping
    engine, place it over that letter.
    """
    if not any(has_rtl(line) for line in lines):
        return list(lines)
    base = "R" if get_base_level("\n".join(lines)) == 1 else "L"
    return [
        str(get_display(_RESHAPER.reshape(line), base_dir=base)) if has_rtl(line) else line
        for line in lines
    ]


def font_runs(line: str, *, bold: bool = False) -> list[tuple[str, str]]:
    """Cut one line, already in visual order, into (font name, text) runs of the family.

    A space stays in the run it is in when that run's font has one, and a combining mark in the
    run of its letter, so a name is one run rather than one per word.
    """
    primary = FONT_BOLD if bold else FONT_REGULAR
    if _is_fast(line, bold):
        return [(primary, line)]
    table = _font_table(bold)
    runs: list[tuple[str, list[str]]] = []
    for char in line:
        code = ord(char)
        font = table.font_of.get(code, primary)
        if runs and font != runs[-1][0] and (char == " " or unicodedata.combining(char)):
            current = runs[-1][0]
            if code in pdfmetrics.getFont(current).face.charToGlyph:
                font = current
        if runs and runs[-1][0] == font:
            runs[-1][1].append(char)
        else:
            runs.append((font, [char]))
    return [(font, "".join(chars)) for font, chars in runs]


def line_width(line: str, font_name: str, size: float) -> float:
    """Return the width in points of one line drawn in its font runs (`font_name` gives the
    weight: DejaVu Sans Bold or not)."""
    bold = font_name == FONT_BOLD
    if _is_fast(line, bold):
        _register_primary()
        return float(pdfmetrics.stringWidth(line, font_name, size))
    shaped = _RESHAPER.reshape(line) if has_rtl(line) else line
    return sum(
        float(pdfmetrics.stringWidth(text, font, size))
        for font, text in font_runs(shaped, bold=bold)
    )


@cache
def _glyph_widths(font_name: str) -> tuple[dict[int, float], float]:
    """Return the advance of each character of an embedded font, in thousandths of an em."""
    face = pdfmetrics.getFont(font_name).face
    return dict(face.charWidths), float(face.defaultWidth)


def wrap_lines(text: str, width: float, font_name: str, size: float) -> list[str]:
    """Break plain `text` into logical lines no wider than `width` when drawn in its font runs:
    at spaces, else inside a word (a long identifier, or a script written without spaces)."""
    return _wrap(text, width, font_name, size, fast=_is_fast(text, font_name == FONT_BOLD))


def _wrap(text: str, width: float, font_name: str, size: float, *, fast: bool) -> list[str]:
    _register_primary()
    # Latin: one font, measured in C. Otherwise each candidate line is measured as drawn:
    # shaped and put in visual order with the base direction of the whole text.
    base = "R" if has_rtl(text) and get_base_level(text) == 1 else "L"

    def drawn_width(line: str, font: str, points: float) -> float:
        drawn = str(get_display(_RESHAPER.reshape(line), base_dir=base)) if has_rtl(line) else line
        return line_width(drawn, font, points)

    measure = pdfmetrics.stringWidth if fast else drawn_width

    lines: list[str] = []
    space = measure(" ", font_name, size)
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if measure(paragraph, font_name, size) <= width:
            lines.append(paragraph)
            continue
        line, used = "", 0.0
        for word in paragraph.split(" "):
            word_width = measure(word, font_name, size)
            if line and used + space + word_width <= width:
                # One font adds up; with several, a space takes the font of the run it joins
                # in the order drawn, and shaping changes letters with their neighbours: measure
                # the joined line as it will be drawn.
                joined = f"{line} {word}"
                if fast or measure(joined, font_name, size) <= width:
                    line, used = joined, used + space + word_width
                    continue
            if line:
                lines.append(line)
            line, used = word, word_width
            if used > width:
                *pieces, line = _break_word(line, width, font_name, size, measure, fast=fast)
                lines += pieces
                used = measure(line, font_name, size)
        lines.append(line)
    return lines


def _break_word(
    word: str,
    width: float,
    font_name: str,
    size: float,
    measure: Callable[[str, str, float], float],
    *,
    fast: bool,
) -> list[str]:
    """Cut a word wider than `width` into pieces that fit (as `measure` finds them drawn), never
    before a combining mark."""
    pieces: list[str] = []
    start = 0
    if fast:  # one font: add up the advances
        widths, default = _glyph_widths(font_name)
        limit, used = width * 1000 / size, 0.0
        for index, char in enumerate(word):
            advance = widths.get(ord(char), default)
            if used + advance > limit and index > start and not unicodedata.combining(char):
                pieces.append(word[start:index])
                start, used = index, 0.0
            used += advance
    else:  # shaping changes a letter's width with its neighbours: measure each piece
        for index in range(1, len(word)):
            if unicodedata.combining(word[index]):
                continue
            if measure(word[start : index + 1], font_name, size) > width:
                pieces.append(word[start:index])
                start = index
    pieces.append(word[start:])
    return pieces


def display_lines(text: str, width: float, font_name: str, size: float) -> list[str]:
    """Return printable `text` broken to `width`, each line in the order it is drawn."""
    fast = _is_fast(text, font_name == FONT_BOLD)
    lines = _wrap(text, width, font_name, size, fast=fast)
    return lines if fast else visual_lines(lines)


def runs_markup(line: str, *, bold: bool = False) -> str:
    """Return one visual line as Paragraph markup: escaped, each fallback run in its font."""
    primary = FONT_BOLD if bold else FONT_REGULAR
    return "".join(
        escape(text) if font == primary else f'<font name="{font}">{escape(text)}</font>'
        for font, text in font_runs(line, bold=bold)
    )


def draw_line(
    canvas: object, x: float, y: float, text: str, *, font_name: str, size: float, right: bool
) -> None:
    """Draw one line of plain text on a reportlab canvas, from `x` (or ending at `x`, `right`),
    in its font runs; the canvas's font is `font_name` again afterwards."""
    line = visual_lines([printable(text).replace("\n", " ").replace("\r", " ")])[0]
    runs = font_runs(line, bold=font_name == FONT_BOLD)
    draw = canvas.drawRightString if right else canvas.drawString  # type: ignore[attr-defined]
    if len(runs) == 1 and runs[0][0] == font_name:
        draw(x, y, line)
        return
    widths = [float(pdfmetrics.stringWidth(part, font, size)) for font, part in runs]
    if right:
        x -= sum(widths)
    for (font, part), advance in zip(runs, widths, strict=True):
        canvas.setFont(font, size)  # type: ignore[attr-defined]
        canvas.drawString(x, y, part)  # type: ignore[attr-defined]
        x += advance
    canvas.setFont(font_name, size)  # type: ignore[attr-defined]


__all__ = [
    "FALLBACK_FACES",
    "FONT_BOLD",
    "FONT_DIR",
    "FONT_REGULAR",
    "HIDDEN_CHARACTERS",
    "display_lines",
    "draw_line",
    "font_runs",
    "has_rtl",
    "line_width",
    "printable",
    "register_fonts",
    "runs_markup",
    "visual_lines",
    "wrap_lines",
]
