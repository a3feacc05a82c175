"""The register of processing activities (R33) as rows, CSV and PDF, from a toy data map."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader

from exports.ropa import COLUMNS, ropa_csv, ropa_headings, ropa_pdf, ropa_rows
from inventory.model import DataMap
from tests.exports.conftest import translations_for

MAP_FILE = Path(__file__).with_name("ropa_map.yaml")
MARKUP = "<b>Zoé & Cie</b>"
LANGUAGES = ("fr", "en")


def load_map_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(MAP_FILE.read_text(encoding="utf-8"))
    return document


def make_map(document: dict[str, Any] | None = None) -> DataMap:
    return DataMap.model_validate(document if document is not None else load_map_document())


@pytest.fixture(scope="module")
def data_map() -> DataMap:
    return make_map()


@pytest.fixture(scope="module", params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    language: str = request.param
    return language


@pytest.fixture(scope="module")
def pdf(data_map: DataMap, lang: str) -> bytes:
    return ropa_pdf(data_map, lang, translations_for(lang))


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV starts with a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- rows ---------------------------------------------------------------------------------------


def test_rows_give_one_activity_per_category_with_every_column(data_map: DataMap) -> None:
    rows = ropa_rows(data_map, "fr", translations_for("fr"))

    assert [row["activity_id"] for row in rows] == ["profile", "billing", "exam_accommodation"]
    assert all(list(row) == list(COLUMNS) for row in rows)
    assert all(row[column] for row in rows for column in COLUMNS), "no cell is left empty"


def test_rows_say_what_article_30_asks(data_map: DataMap) -> None:
    rows = {row["activity_id"]: row for row in ropa_rows(data_map, "fr", translations_for("fr"))}
    billing, exam, profile = rows["billing"], rows["exam_accommodation"], rows["profile"]

    assert billing["legal_basis"].splitlines() == [
        "Respect d'une obligation légale (Art. 6(1)(c) RGPD)",
        "Code de commerce, article L123-22",
    ]
    assert billing["recipients"] == (
        "PayFlow Inc. (sous-traitant, US) : Encaissement des paiements par carte"
    )
    assert billing["transfers"] == (
        "PayFlow Inc. (US) : Clauses contractuelles types de la Commission européenne (2021/914)"
    )
    assert billing["retention"].splitlines() == [
        "Durée : 10 ans",
        "Point de départ : Date d'émission (invoice.issued_at)",
        "Source légale : Code de commerce, article L123-22",
    ]
    assert billing["data_categories"] == (
        "Numéro de facture, Date d'émission, Adresse de facturation"
    )
    assert billing["controller"].startswith("Atelier Éloïse Langues SARL, 12 rue de l'Église")
    assert "dpo@atelier-eloise.example" in billing["dpo"]
    assert billing["data_subjects"].splitlines() == ["Apprenants inscrits", "Candidats aux examens"]
    assert "Chiffrement des sauvegardes" in billing["security_measures"]
    assert billing["special_data"] == "Non"

    assert exam["special_data"] == "Oui"
    assert exam["recipients"].startswith("CCI Paris Île-de-France (tiers, FR)")
    assert exam["transfers"] == "Aucun transfert hors de l'Union européenne, sauf mention contraire"

    assert profile["recipients"] == "Aucun"
    assert profile["purposes"].splitlines() == ["=SUM(A1)", f"Adapter le parcours — {MARKUP}"]
    assert "Condition : tant que le compte est inactif" in profile["retention"].splitlines()


def test_rows_in_english_and_any_other_language_falls_back_to_it(data_map: DataMap) -> None:
    english = ropa_rows(data_map, "en", translations_for("en"))

    assert english[1]["retention"].splitlines()[:2] == [
        "Period: 10 years",
        "Starting from: Issue date (invoice.issued_at)",
    ]
    assert english[1]["legal_basis"].startswith("Compliance with a legal obligation (Art. 6(1)(c)")
    assert english[2]["special_data"] == "Yes"
    assert ropa_rows(data_map, "de", translations_for("de")) == english
    assert list(ropa_headings(translations_for("de")).values()) == list(
        ropa_headings(translations_for("en")).values()
    )


def test_a_recipient_in_the_eea_is_no_transfer_but_one_outside_is_even_without_safeguards() -> None:
    document = load_map_document()
    document["recipients"]["cci"]["country"] = "no"  # Norway: EEA
    document["recipients"]["payflow"].pop("transfer_safeguards")
    document["recipients"]["payflow"]["country"] = "CH"
    rows = {
        row["activity_id"]: row
        for row in ropa_rows(make_map(document), "en", translations_for("en"))
    }

    assert rows["exam_accommodation"]["transfers"] == (
        "No transfer outside the European Union unless stated otherwise"
    )
    assert rows["billing"]["transfers"] == (
        "PayFlow Inc. (CH): no safeguards stated in the register"
    )


def test_an_unknown_recipient_is_an_error_not_a_silent_gap() -> None:
    document = load_map_document()
    document["categories"]["billing"]["recipients"] = ["payflow", "ghost"]

    with pytest.raises(ValueError, match="'billing' names an unknown recipient 'ghost'"):
        ropa_rows(make_map(document), "fr", translations_for("fr"))


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_parses_back_with_a_header_and_one_row_per_activity(
    data_map: DataMap, lang: str
) -> None:
    table = read_csv(ropa_csv(data_map, lang, translations_for(lang)))
    rows = ropa_rows(data_map, lang, translations_for(lang))

    assert table[0] == list(ropa_headings(translations_for(lang)).values())
    assert len(table) == 1 + len(data_map.categories)
    assert [line[0] for line in table[1:]] == list(data_map.categories)
    for line, row in zip(table[1:], rows, strict=True):
        assert line == ["'" + cell if cell.startswith("=") else cell for cell in row.values()]


def test_csv_neutralises_formulas_and_keeps_markup_and_accents_as_text(data_map: DataMap) -> None:
    data = ropa_csv(data_map, "fr", translations_for("fr"))
    table = read_csv(data)
    purposes = table[1][COLUMNS.index("purposes")]

    assert purposes == f"'=SUM(A1)\nAdapter le parcours — {MARKUP}"
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for cell in row
    )
    assert table[3][COLUMNS.index("recipients")].startswith("CCI Paris Île-de-France")
    assert b"\r\n" in data, "rows end with CRLF as RFC 4180 and Excel expect"


def test_csv_matches_the_golden_file(
    data_map: DataMap, lang: str, assert_golden: Callable[[str, str], None]
) -> None:
    text = ropa_csv(data_map, lang, translations_for(lang)).decode("utf-8-sig")

    assert_golden(f"ropa_{lang}.csv", text.replace("\r\n", "\n"))


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_text_names_every_activity_with_its_basis_retention_and_recipients(
    data_map: DataMap, lang: str, pdf: bytes, pdf_text: Callable[[bytes], str]
) -> None:
    text = pdf_text(pdf)
    flat = " ".join(text.split())

    for category in data_map.categories.values():
        assert category.title.get(lang) in text
        assert category.legal_basis.describe(translations_for(lang)) in flat
        assert category.retention.period.describe(translations_for(lang)) in text
        assert category.retention.source.get(lang) in flat
    for recipient in data_map.recipients.values():
        assert recipient.name.get(lang) in text
    assert data_map.organisation.dpo.email in text
    assert "Clauses contractuelles types" in flat if lang == "fr" else "contractual clauses" in flat


def test_pdf_shows_markup_in_the_data_literally(
    pdf: bytes, pdf_text: Callable[[bytes], str]
) -> None:
    text = pdf_text(pdf)

    assert MARKUP in text
    assert "=SUM(A1)" in text


def test_pdf_numbers_every_page_x_of_y(
    pdf: bytes, pdf_pages_text: Callable[[bytes], list[str]]
) -> None:
    pages = pdf_pages_text(pdf)

    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert re.search(rf"(?m)^{number} / {len(pages)}$", text), f"page {number} is numbered"


def test_pdf_metadata(data_map: DataMap, lang: str, pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    metadata = reader.metadata
    assert metadata is not None
    name = data_map.organisation.name
    expected_title = {
        "fr": f"Registre des activités de traitement — {name}",
        "en": f"Record of processing activities — {name}",
    }[lang]

    assert metadata.title == expected_title
    assert metadata.author == name
    assert metadata.subject is not None
    assert ("article 30 du RGPD" if lang == "fr" else "GDPR Article 30") in metadata.subject
    assert str(reader.root_object["/Lang"]) == lang


def test_pdf_embeds_dejavu_and_no_other_font(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    pages: list[Any] = list(reader.pages)  # pypdf types a page's entries loosely
    fonts = {
        str(font["/BaseFont"]).split("+", 1)[-1]: font
        for page in pages
        for font in (ref.get_object() for ref in page["/Resources"]["/Font"].values())
    }

    assert set(fonts) == {"DejaVuSans", "DejaVuSans-Bold"}
    for font in fonts.values():
        assert "/FontFile2" in font["/FontDescriptor"], "the TrueType font program is embedded"


def test_pdf_is_byte_stable_for_the_same_map(data_map: DataMap, lang: str, pdf: bytes) -> None:
    assert ropa_pdf(data_map, lang, translations_for(lang)) == pdf


def test_pdf_prints_the_edition_date_only_when_given(
    data_map: DataMap, pdf_text: Callable[[bytes], str]
) -> None:
    french = pdf_text(ropa_pdf(data_map, "fr", translations_for("fr"), edition=date(2025, 3, 1)))
    english = pdf_text(ropa_pdf(data_map, "en", translations_for("en"), edition=date(2025, 3, 1)))

    assert "Édition du" in french and "01/03/2025" in french
    assert "Edition of" in english and "2025-03-01" in english
    assert "Édition du" not in pdf_text(ropa_pdf(data_map, "fr", translations_for("fr")))


def test_pdf_passes_qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.fail("qpdf is not installed: install it (apt-get install -y qpdf) to check the PDFs")
    path = tmp_path / "ropa.pdf"
    path.write_bytes(pdf)

    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [qpdf, "--check", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_pdf_matches_the_golden_file(
    lang: str,
    pdf: bytes,
    assert_golden: Callable[[str, str], None],
    pdf_text: Callable[[bytes], str],
) -> None:
    assert_golden(f"ropa_{lang}.txt", pdf_text(pdf))


def test_a_long_activity_splits_across_pages_under_its_repeated_heading(
    pdf_pages_text: Callable[[bytes], list[str]],
) -> None:
    document = load_map_document()
    document["categories"]["billing"]["purposes"] = [
        {"fr": f"Finalité numéro {n}", "en": f"Purpose number {n}"} for n in range(1, 121)
    ]
    pages = pdf_pages_text(ropa_pdf(make_map(document), "en", translations_for("en")))
    holding = [n for n, text in enumerate(pages, start=1) if "Purpose number" in text]

    assert len(holding) >= 2, "the purposes run over more than one page"
    for number in holding:
        assert "2. Billing" in pages[number - 1], f"page {number} repeats the activity's heading"
    every_purpose = "\n".join(pages)
    assert all(f"Purpose number {n}\n" in every_purpose for n in range(1, 121))
