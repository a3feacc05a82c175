"""The register of processing activities (R33) as rows, CSV, XLSX and PDF, from a toy data map:
one entry per activity of the map, then the desk's own handling of the requests."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader

from exports.ropa import (
    COLUMNS,
    DeskRetention,
    Edition,
    ropa_csv,
    ropa_headings,
    ropa_pdf,
    ropa_rows,
    ropa_xlsx,
)
from inventory.model import DataMap
from tests.exports.conftest import translations_for

MAP_FILE = Path(__file__).with_name("ropa_map.yaml")
MARKUP = "<b>Zoé & Cie</b>"
LANGUAGES = ("fr", "en")
DESK = DeskRetention(closed_request_days=1826, delivery_days=30)
ACTIVITIES = ["teaching", "exams", "data_subject_requests"]


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
    return ropa_pdf(data_map, lang, translations_for(lang), DESK)


def rows_of(data_map: DataMap, lang: str = "fr") -> dict[str, dict[str, str]]:
    return {
        row["activity_id"]: row for row in ropa_rows(data_map, lang, translations_for(lang), DESK)
    }


def read_csv(data: bytes, delimiter: str = ";") -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV starts with a UTF-8 BOM for Excel"
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


# --- rows ---------------------------------------------------------------------------------------


def test_rows_give_one_entry_per_activity_then_the_desks_own(data_map: DataMap) -> None:
    rows = ropa_rows(data_map, "fr", translations_for("fr"), DESK)

    assert [row["activity_id"] for row in rows] == ACTIVITIES
    assert all(list(row) == list(COLUMNS) for row in rows)
    assert all(row[column] for row in rows for column in COLUMNS), "no cell is left empty"


def test_persons_concerned_are_those_of_each_activity_not_all(data_map: DataMap) -> None:
    rows = rows_of(data_map)

    assert rows["teaching"]["data_subjects"] == "Apprenants inscrits"
    assert rows["exams"]["data_subjects"] == "Candidats aux examens"


def test_rows_say_what_article_30_asks_per_activity(data_map: DataMap) -> None:
    rows = rows_of(data_map)
    teaching, exams = rows["teaching"], rows["exams"]

    assert teaching["activity"] == "Formation des apprenants"
    assert teaching["purposes"].splitlines() == [
        "Adapter et facturer les formations",
        "=SUM(A1)",
        f"Adapter le parcours — {MARKUP}",
    ]
    assert teaching["legal_basis"].splitlines() == [
        "Profil pédagogique « Zoé & Cie » : Consentement de la personne (Art. 6(1)(a) RGPD)",
        "Facturation : Respect d'une obligation légale (Art. 6(1)(c) RGPD)"
        " — Code de commerce, article L123-22",
    ], "without its own basis, an activity rests on those of its categories"
    assert exams["legal_basis"].splitlines() == [
        "Consentement de la personne (Art. 6(1)(a) RGPD)",
        "Consentement explicite (art. 9(2)(a) du RGPD)",
    ]
    assert teaching["data_categories"].splitlines() == [
        "Profil pédagogique « Zoé & Cie » : Niveau de langue, Style d'apprentissage",
        "Facturation : Numéro de facture, Date d'émission, Adresse de facturation",
    ]
    assert teaching["recipients"] == (
        "PayFlow Inc. (sous-traitant, États-Unis) : Encaissement des paiements par carte"
    )
    assert teaching["transfers"] == (
        "PayFlow Inc. (États-Unis) : Clauses contractuelles types (art. 46(2)(c) du RGPD)"
        " — Clauses contractuelles types de la Commission européenne (2021/914)"
    )
    assert teaching["retention"].splitlines()[1] == (
        "Facturation : 10 ans à compter de Date d'émission (invoice.issued_at)"
        " (Code de commerce, article L123-22)"
    )
    assert "tant que le compte est inactif" in teaching["retention"].splitlines()[0]
    assert teaching["controller"].startswith("Atelier Éloïse Langues SARL, 12 rue de l'Église")
    assert "dpo@atelier-eloise.example" in teaching["dpo"]
    assert teaching["special_data"] == "Non"
    assert exams["special_data"] == "Oui"
    assert exams["recipients"].splitlines()[1] == (
        "CCI Paris Île-de-France (tiers, France) : Organisation des examens de français"
    )
    assert teaching["security_measures"].splitlines() == [
        "Chiffrement des sauvegardes et des connexions (TLS)",
        "Accès limité au personnel habilité, authentification à deux facteurs",
    ]
    assert exams["security_measures"].splitlines()[-1] == (
        "Dossiers de santé consultés par le seul référent handicap"
    ), "an activity's own measures come after the organisation's"


def test_the_desks_own_processing_is_always_there_with_its_settings(data_map: DataMap) -> None:
    desk = rows_of(data_map, "en")["data_subject_requests"]

    assert desk["activity"] == "Handling of data-subject requests"
    assert desk["retention"].splitlines() == [
        "Requests and their audit log: 1826 days after closing",
        "Reports and exports: until delivered, then 30 days",
    ]
    assert desk["legal_basis"].startswith("Compliance with a legal obligation")
    french = rows_of(data_map, "fr")["data_subject_requests"]
    assert french["activity"] == "Traitement des demandes d'exercice des droits"


def test_rows_in_english_and_any_other_language_falls_back_to_it(data_map: DataMap) -> None:
    english = ropa_rows(data_map, "en", translations_for("en"), DESK)

    assert (
        english[0]["retention"]
        .splitlines()[1]
        .startswith("Billing: 10 years from Issue date (invoice.issued_at)")
    )
    assert english[1]["special_data"] == "Yes"
    assert ropa_rows(data_map, "de", translations_for("de"), DESK) == english
    assert list(ropa_headings(translations_for("de")).values()) == list(
        ropa_headings(translations_for("en")).values()
    )


def test_a_recipient_in_the_eea_is_no_transfer() -> None:
    document = load_map_document()
    document["recipients"]["payflow"]["country"] = "no"  # Norway: EEA
    rows = rows_of(make_map(document), "en")

    assert rows["teaching"]["transfers"] == (
        "No transfer outside the European Union unless stated otherwise"
    )
    assert "(processor, Norway)" in rows["teaching"]["recipients"]


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_parses_back_with_a_header_and_one_row_per_activity(
    data_map: DataMap, lang: str
) -> None:
    data = ropa_csv(data_map, lang, translations_for(lang), DESK)
    table = read_csv(data, ";" if lang == "fr" else ",")
    rows = ropa_rows(data_map, lang, translations_for(lang), DESK)

    assert table[0] == list(ropa_headings(translations_for(lang)).values())
    assert [line[0] for line in table[1:]] == ACTIVITIES
    for line, row in zip(table[1:], rows, strict=True):
        assert line == ["'" + cell if cell.startswith("=") else cell for cell in row.values()]


def test_the_french_csv_is_semicolon_separated_with_a_bom(data_map: DataMap) -> None:
    data = ropa_csv(data_map, "fr", translations_for("fr"), DESK)

    assert data.startswith(b"\xef\xbb\xbfIdentifiant;Activit")
    assert b"\r\n" in data, "rows end with CRLF as RFC 4180 and Excel expect"
    assert ropa_csv(data_map, "en", translations_for("en"), DESK).startswith(
        b"\xef\xbb\xbfIdentifier,Processing activity,"
    )


def test_csv_neutralises_formulas_and_keeps_markup_and_accents_as_text(data_map: DataMap) -> None:
    table = read_csv(ropa_csv(data_map, "fr", translations_for("fr"), DESK))
    purposes = table[1][COLUMNS.index("purposes")]

    assert (
        purposes == f"Adapter et facturer les formations\n=SUM(A1)\nAdapter le parcours — {MARKUP}"
    )
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for cell in row
    )
    assert "\nCCI Paris Île-de-France" in table[2][COLUMNS.index("recipients")]


# --- XLSX ---------------------------------------------------------------------------------------


def test_xlsx_is_a_workbook_with_one_row_per_activity(data_map: DataMap) -> None:
    data = ropa_xlsx(data_map, "fr", translations_for("fr"), DESK)

    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        assert workbook.testzip() is None
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
        strings = workbook.read("xl/sharedStrings.xml").decode()
        names = workbook.read("xl/workbook.xml").decode()
    assert sheet.count("<row ") == 1 + len(ACTIVITIES)
    assert "Formation des apprenants" in strings and "Candidats aux examens" in strings
    assert 'name="Registre des activités de tr' in names


def test_csv_matches_the_golden_file(
    data_map: DataMap, lang: str, assert_golden: Callable[[str, str], None]
) -> None:
    text = ropa_csv(data_map, lang, translations_for(lang), DESK).decode("utf-8-sig")

    assert_golden(f"ropa_{lang}.csv", text.replace("\r\n", "\n"))


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_text_names_every_activity_with_its_basis_retention_and_recipients(
    data_map: DataMap, lang: str, pdf: bytes, pdf_text: Callable[[bytes], str]
) -> None:
    text = pdf_text(pdf)
    flat = " ".join(text.split())

    for activity in data_map.activities.values():
        assert activity.name.get(lang) in text
    for category in data_map.categories.values():
        assert category.title.get(lang) in flat
        assert category.retention.period.describe(translations_for(lang)) in flat
        assert category.retention.source.get(lang) in flat
    for recipient in data_map.recipients.values():
        assert recipient.name.get(lang) in text
    assert data_map.organisation.dpo.email in text
    assert "Clauses contractuelles types" in flat if lang == "fr" else "contractual clauses" in flat


def test_pdf_shows_markup_in_the_data_literally(
    pdf: bytes, pdf_text: Callable[[bytes], str]
) -> None:
    text = " ".join(pdf_text(pdf).split())

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
    assert ropa_pdf(data_map, lang, translations_for(lang), DESK) == pdf


def test_pdf_prints_its_version_date_digest_and_changes_only_when_given(
    data_map: DataMap, pdf_text: Callable[[bytes], str]
) -> None:
    edition = Edition(3, date(2025, 3, 1), "ab" * 32, ["Activité ajoutée : exams"])
    french = " ".join(
        pdf_text(ropa_pdf(data_map, "fr", translations_for("fr"), DESK, edition=edition)).split()
    )
    english = pdf_text(ropa_pdf(data_map, "en", translations_for("en"), DESK, edition=edition))

    assert "Édition du 01/03/2025" in french and "Version 3" in french
    assert "Activité ajoutée : exams" in french and "ab" * 32 in french.replace(" ", "")
    assert "Edition of" in english and "2025-03-01" in english
    assert "Édition du" not in pdf_text(ropa_pdf(data_map, "fr", translations_for("fr"), DESK))


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
    document["activities"]["exams"]["purposes"] = [
        {"fr": f"Finalité numéro {n}", "en": f"Purpose number {n}"} for n in range(1, 121)
    ]
    pages = pdf_pages_text(ropa_pdf(make_map(document), "en", translations_for("en"), DESK))
    holding = [n for n, text in enumerate(pages, start=1) if "Purpose number" in text]

    assert len(holding) >= 2, "the purposes run over more than one page"
    for number in holding:
        assert "2. Holding the exams" in pages[number - 1], f"page {number} repeats its heading"
    every_purpose = "\n".join(pages)
    assert all(f"Purpose number {n}\n" in every_purpose for n in range(1, 121))
