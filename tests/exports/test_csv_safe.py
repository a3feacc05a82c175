"""CSV cells that a spreadsheet would run as formulas are neutralised (CSV injection)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.csv_safe import FORMULA_PREFIXES, csv_bytes, neutralise_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+33 1 23 45 67 89", "'+33 1 23 45 67 89"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Zoé = Cie", "Zoé = Cie"),
        ("", ""),
        ("'already quoted", "'already quoted"),
    ],
)
def test_neutralise_cell(value: str, expected: str) -> None:
    assert neutralise_cell(value) == expected


@given(st.text())
def test_a_neutralised_cell_never_starts_a_formula_and_keeps_the_value(value: str) -> None:
    cell = neutralise_cell(value)

    assert not cell.startswith(FORMULA_PREFIXES)
    assert cell in (value, "'" + value)


def test_csv_bytes_is_utf8_with_bom_crlf_and_neutralised() -> None:
    data = csv_bytes(["Nom", "Note"], [["Zoé", "=1+1"], ['Ana, "la"', "ligne 1\nligne 2"]])

    assert data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\r\n")[0] == b"\xef\xbb\xbfNom,Note"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["Nom", "Note"], ["Zoé", "'=1+1"], ['Ana, "la"', "ligne 1\nligne 2"]]


def test_csv_bytes_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="2 cells where the header has 3"):
        csv_bytes(["a", "b", "c"], [["1", "2"]])
