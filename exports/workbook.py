"""Registers as XLSX workbooks, for the DPO who keeps them in a spreadsheet (R33).

Every cell is written as text (`write_string`): a value from the map or from a request is never
read as a formula, a number or a date by the spreadsheet, so nothing needs neutralising as in CSV.
The header row is bold, frozen and filtered; columns are as wide as their longest line (within
bounds), and cells wrap.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import xlsxwriter

MIN_WIDTH = 8
MAX_WIDTH = 60
SHEET_NAME_MAX = 31
"""Excel's limit on a worksheet's name."""
_SHEET_NAME_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Sheet:
    """One worksheet: its name (shortened to Excel's limit), header and rows of text."""

    name: str
    header: Sequence[str]
    rows: Iterable[Sequence[str]]


def xlsx_bytes(sheets: Sequence[Sheet], *, title: str, created: datetime | None = None) -> bytes:
    """Write `sheets` into one XLSX workbook whose document title is `title`."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    properties: dict[str, object] = {"title": title}
    if created is not None:
        properties["created"] = created
    workbook.set_properties(properties)
    bold = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    wrapped = workbook.add_format({"text_wrap": True, "valign": "top"})
    for sheet in sheets:
        _write_sheet(workbook, sheet, bold, wrapped)
    workbook.close()
    return buffer.getvalue()


def _write_sheet(
    workbook: xlsxwriter.Workbook, sheet: Sheet, bold: object, wrapped: object
) -> None:
    name = sheet.name.translate(_SHEET_NAME_FORBIDDEN).strip()[:SHEET_NAME_MAX] or "Sheet"
    worksheet = workbook.add_worksheet(name)
    widths = [_width(cell) for cell in sheet.header]
    for col, cell in enumerate(sheet.header):
        worksheet.write_string(0, col, cell, bold)
    row_count = 0
    for row_count, row in enumerate(sheet.rows, start=1):
        if len(row) != len(sheet.header):
            raise ValueError(
                f"a row of sheet {name!r} has {len(row)} cells where the header has "
                f"{len(sheet.header)}"
            )
        for col, cell in enumerate(row):
            worksheet.write_string(row_count, col, cell, wrapped)
            widths[col] = max(widths[col], _width(cell))
    for col, width in enumerate(widths):
        worksheet.set_column(col, col, min(max(width, MIN_WIDTH), MAX_WIDTH))
    worksheet.freeze_panes(1, 0)
    if sheet.header:
        worksheet.autofilter(0, 0, row_count, len(sheet.header) - 1)


def _width(cell: str) -> int:
    return max((len(line) for line in cell.splitlines()), default=0) + 2
