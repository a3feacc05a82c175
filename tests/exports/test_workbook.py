"""The registers' spreadsheets: XLSX cells are text; CSV uses its reader's list separator."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from exports.csv_safe import csv_bytes, csv_delimiter
from exports.workbook import Sheet, xlsx_bytes


def _sheet_xml(book: bytes) -> tuple[str, str, str]:
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        assert archive.testzip() is None
        return (
            archive.read("xl/workbook.xml").decode(),
            archive.read("xl/worksheets/sheet1.xml").decode(),
            archive.read("xl/sharedStrings.xml").decode(),
        )


def test_every_cell_is_text_and_never_a_formula() -> None:
    book = xlsx_bytes(
        [Sheet("Registre", ["Nom", "Montant"], [['=HYPERLINK("http://x")', "1,5"]])],
        title="Registre",
    )
    workbook, sheet, strings = _sheet_xml(book)
    assert "<f>" not in sheet  # no formula cell
    assert 't="s"' in sheet  # shared-string (text) cells
    assert '=HYPERLINK("http://x")' in strings
    assert "1,5" in strings
    assert 'name="Registre"' in workbook


def test_a_sheet_name_is_shortened_and_cleaned_to_what_excel_accepts() -> None:
    book = xlsx_bytes([Sheet("a/b:c" + "x" * 40, ["h"], [])], title="t")
    workbook, _, _ = _sheet_xml(book)
    name = re.search(r'<sheet name="([^"]*)"', workbook)
    assert name is not None
    assert len(name.group(1)) == 31
    assert not set("[]:*?/\\") & set(name.group(1))


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="has 1 cells where the header has 2"):
        xlsx_bytes([Sheet("s", ["a", "b"], [["only one"]])], title="t")


@pytest.mark.parametrize(("language", "expected"), [("fr", ";"), ("de", ";"), ("en", ",")])
def test_csv_uses_the_list_separator_of_its_readers_locale(language: str, expected: str) -> None:
    assert csv_delimiter(language) == expected
    body = csv_bytes(["a", "b"], [["x;y", "=1"]], delimiter=csv_delimiter(language))
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=expected))
    assert rows == [["a", "b"], ["x;y", "'=1"]]
