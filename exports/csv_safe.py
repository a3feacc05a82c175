"""CSV that spreadsheets open safely: UTF-8 with a BOM, and no cell read as a formula.

A spreadsheet opens a CSV file with the list separator of its locale: a comma where the decimal
separator is a point (English), a semicolon where the decimal separator is a comma (French,
German...). `csv_delimiter` gives the one a reader of a language expects, from Babel's locale data.

Data in our CSV files comes from people (names, messages, free-text purposes). A spreadsheet runs
a cell that starts with `=`, `+`, `-` or `@` as a formula (CSV injection, OWASP), so such cells get
a leading apostrophe, which spreadsheets take as "this is text" and do not show.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from babel import Locale

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
UTF8_BOM = "\ufeff"


def neutralise_cell(value: str) -> str:
    """Return `value` prefixed with an apostrophe when a spreadsheet would run it as a formula."""
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_delimiter(language: str) -> str:
    """The list separator a spreadsheet in `language` expects: `;` where numbers are written with
    a decimal comma (fr: 3,5), `,` otherwise."""
    decimal = Locale.parse(language).number_symbols.get("latn", {}).get("decimal", ".")
    return ";" if decimal == "," else ","


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, delimiter: str = ","
) -> bytes:
    """Write a header and rows as CSV for Excel: UTF-8 with a BOM, CRLF, every cell neutralised.
    Pass `delimiter=csv_delimiter(language)` for a file its reader opens by double-clicking."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise_cell(cell) for cell in header])
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a CSV row has {len(row)} cells where the header has {len(header)}")
        writer.writerow([neutralise_cell(cell) for cell in row])
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")
