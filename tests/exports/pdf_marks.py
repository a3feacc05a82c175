"""What a PDF draws on each page, in page coordinates, whatever operators drew it.

Our flowables stand in for reportlab's tables and paragraphs with operators of their own: two
documents that draw the same text (decoded through each font's ToUnicode map) at the same places,
in the same sizes and colours, and fill and stroke the same rectangles and segments, look the
same, whatever the order of their operators, the codes of their font subsets and the pieces a
line is stroked in.
"""

from __future__ import annotations

import re
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ContentStream

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1, 0, 0, 1, 0, 0)


def _times(a: Matrix, b: Matrix) -> Matrix:
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def _point(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (round(m[0] * x + m[2] * y + m[4], 2), round(m[1] * x + m[3] * y + m[5], 2))


def _to_unicode(font: Any) -> dict[int, str]:
    stream = font.get_object().get("/ToUnicode")
    if stream is None:
        return {}
    cmap = stream.get_object().get_data().decode("latin-1")
    pairs = re.findall(r"<([0-9A-Fa-f]{2})> <([0-9A-Fa-f]{4})>", cmap)
    return {int(code, 16): chr(int(char, 16)) for code, char in pairs}


def page_marks(pdf_path: Any) -> list[list[tuple[Any, ...]]]:
    """Per page, the sorted marks: ("text", text, (x, y), size, fill colour), ("fill", box,
    colour) and ("stroke", segment, colour, width, cap)."""
    pages = []
    for page in PdfReader(pdf_path).pages:
        fonts = {name: _to_unicode(font) for name, font in page["/Resources"]["/Font"].items()}
        state: dict[str, Any] = {"ctm": IDENTITY, "fill": (0.0,), "stroke": (0.0,), "w": 1.0}
        state["cap"] = 0
        saved: list[dict[str, Any]] = []
        text = line = IDENTITY
        font: dict[int, str] = {}
        size = leading = 0.0
        path: list[tuple[Any, ...]] = []
        current = (0.0, 0.0)
        marks: list[tuple[Any, ...]] = []
        for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
            op = operator.decode()
            numbers = [float(o) for o in operands if isinstance(o, int | float)]
            if op == "q":
                saved.append(dict(state))
            elif op == "Q":
                state = saved.pop()
            elif op == "cm":
                state["ctm"] = _times(tuple(numbers), state["ctm"])  # type: ignore[arg-type]
            elif op in ("rg", "RG"):
                state["fill" if op == "rg" else "stroke"] = tuple(round(n, 3) for n in numbers)
            elif op == "w":
                state["w"] = numbers[0]
            elif op == "J":
                state["cap"] = int(numbers[0])
            elif op == "BT":
                text = line = IDENTITY
            elif op == "Tm":
                text = line = tuple(numbers)  # type: ignore[assignment]
            elif op == "Tf":
                font, size = fonts[operands[0]], numbers[0]
            elif op == "TL":
                leading = numbers[0]
            elif op in ("T*", "Td"):
                move = (0.0, -leading) if op == "T*" else (numbers[0], numbers[1])
                text = line = _times((1, 0, 0, 1, *move), line)
            elif op == "Tj":
                raw = operands[0]
                codes = raw.original_bytes if hasattr(raw, "original_bytes") else bytes(raw)
                shown = "".join(font.get(code, "?") for code in codes)
                where = _point(_times(text, state["ctm"]), 0, 0)
                marks.append(("text", shown, where, size, state["fill"]))
            elif op == "re":
                x, y, w, h = numbers
                (x0, y0), (x1, y1) = _point(state["ctm"], x, y), _point(state["ctm"], x + w, y + h)
                path.append(("box", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))))
            elif op == "m":
                current = _point(state["ctm"], *numbers)
            elif op == "l":
                end = _point(state["ctm"], *numbers)
                path.append(("segment", tuple(sorted([current, end]))))
                current = end
            elif op in ("f", "f*"):
                marks += [("fill", shape, state["fill"]) for _, shape in path]
                path = []
            elif op == "S":
                stroke = (state["stroke"], state["w"], state["cap"])
                marks += [("stroke", shape, *stroke) for _, shape in path]
                path = []
            elif op == "n":
                path = []
        pages.append(sorted(_joined(marks), key=repr))
    return pages


def _joined(marks: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The marks with the strokes of one line joined: a vertical or horizontal segment drawn in
    two pieces end to end (a table split across pages draws its header's apart) looks as one."""
    lines: dict[tuple[Any, ...], list[list[float]]] = {}
    others = []
    for mark in marks:
        if mark[0] != "stroke" or (
            mark[1][0][0] != mark[1][1][0] and mark[1][0][1] != mark[1][1][1]
        ):
            others.append(mark)
            continue
        (x0, y0), (x1, y1) = mark[1]
        vertical = x0 == x1
        key = (vertical, x0 if vertical else y0, *mark[2:])
        lines.setdefault(key, []).append(sorted([y0, y1] if vertical else [x0, x1]))
    for (vertical, at, *stroke), spans in lines.items():
        spans.sort()
        joined = [spans[0]]
        for start, end in spans[1:]:
            if start <= joined[-1][1]:
                joined[-1][1] = max(joined[-1][1], end)
            else:
                joined.append([start, end])
        for start, end in joined:
            ends = ((at, start), (at, end)) if vertical else ((start, at), (end, at))
            others.append(("stroke", ends, *stroke))
    return others
