"""The POINT3 map's `display`s in the sample learner's documents: amounts in euros, course titles
read with one statement per referenced table, countries and languages by name, date columns
without a time, support messages under their thread's subject; the exports keep the raw value
with its label beside it."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from sqlalchemy import create_engine, event, text

from dsr.demo.seed import REFERENCE_NOW, SAMPLE_LEARNER_EMAIL, seed_platform
from exports.access_report import render_access_report
from exports.data_export import write_data_export
from exports.portability import write_portability_zip
from inventory.collection import Collection, collect_subject
from inventory.locator import locate_subject
from inventory.systems import Systems
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import load_point3_map, report_request

PLATFORM = "learner_platform"
MARKUP = "<b>Zoé & Cie</b>"


def collect(engine_url: str, directory: Path) -> tuple[Collection, list[str]]:
    """Collect the sample learner, returning the statements run on the platform meanwhile."""
    data_map = load_point3_map()
    statements: list[str] = []
    with Systems(data_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(systems.engine(PLATFORM), "before_cursor_execute", seen)
        location = locate_subject(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)
        collection = collect_subject(data_map, systems, location, directory)
    return collection, statements


def from_table(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if re.search(rf"\bFROM [`\"]?{table}[`\"]?(\s|$)", s)]


def report_text(collection: Collection, lang: str) -> str:
    out = io.BytesIO()
    render_access_report(
        data_map=load_point3_map(),
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, lang),
        translations=translations_for(lang),
        out=out,
    )
    pages = PdfReader(io.BytesIO(out.getvalue())).pages
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in pages))


def test_course_titles_are_read_with_one_statement_and_shown_in_the_report(
    engine_url: str, tmp_path: Path
) -> None:
    seed_platform(engine_url, learners=12, seed=7, now=REFERENCE_NOW)
    collection, statements = collect(engine_url, tmp_path / "collection")

    # Four categories refer to courses (purchases, interests, comments, quiz answers), in a dozen
    # rows: their titles come from one statement on `course`, not one per row or per category.
    assert len(from_table(statements, "course")) == 1, from_table(statements, "course")
    titles = collection.labels[f"{PLATFORM}.course.id.title"]
    assert "Préparation au TEF Canada" in titles.values()

    french = report_text(collection, "fr")
    assert "Montant total 389,00 € Devise EUR" in french
    assert (
        "Cours acheté Date d'achat Progression (%) Préparation au TEF Canada 10/12/2024" in french
    )
    assert "Pays France Langue préférée français" in french
    # A date column reads as a date, never at '02:00' (midnight UTC in Paris in summer).
    assert "Date de mise à jour 22/09/2026 " in french
    assert "22/09/2026 02:00" not in french
    # Messages under their thread's subject, in the order of the threads.
    first = french.index("Échange : Inscription de groupe")
    second = french.index("Échange : Report de ma session d'examen")
    assert first < french.index("Pouvons-nous avoir une seule facture ?") < second
    assert second < french.index("Puis-je la reporter ?")

    english = report_text(collection, "en")
    assert "Total amount €389.00" in english
    assert "Country France Preferred language French" in english
    assert "Conversation: Inscription de groupe" in english


def sheet(archive: bytes, name: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        text = opened.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_keep_the_raw_value_with_its_label_beside_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=12, seed=7, now=REFERENCE_NOW)
    collection, _ = collect(url, tmp_path / "collection")
    data_map = load_point3_map()
    complete = io.BytesIO()
    write_data_export(
        data_map=data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, "fr"),
        translations=translations_for("fr"),
        out=complete,
    )
    invoices = sheet(complete.getvalue(), "invoices.csv")
    first = next(row for row in invoices if row["Montant total (invoice.total_cents)"])
    assert first["Montant total (invoice.total_cents)"] == "38900"
    assert first["Montant total (invoice.total_cents (label))"] == "389,00\u00a0€"
    lines = [row for row in invoices if row["Prix unitaire (invoice_line.unit_price_cents)"]]
    assert {row["Prix unitaire (invoice_line.unit_price_cents (label))"] for row in lines} >= {
        "149,00\u00a0€"
    }
    with zipfile.ZipFile(io.BytesIO(complete.getvalue())) as opened:
        head = opened.read("purchases.json").decode("utf-8")
    assert '"course_purchase.course_id (label)": "Préparation au TEF Canada"' in head
    assert '"label_of": "course_purchase.course_id"' in head

    portable = io.BytesIO()
    write_portability_zip(
        data_map=data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, "en"),
        translations=translations_for("en"),
        out=portable,
    )
    (contact,) = sheet(portable.getvalue(), "contact.csv")
    assert contact["Country (learner.country)"] == "FR"
    assert contact["Country (learner.country (label))"] == "France"
    assert contact["Preferred language (learner.preferred_language (label))"] == "French"


def test_labels_from_the_database_are_text_in_the_pdf_and_formula_safe_in_the_csv(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=12, seed=7, now=REFERENCE_NOW)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE course SET title = :t"), {"t": "=1+2 <b>Cours</b>"})
        connection.execute(text("UPDATE support_thread SET topic = :t"), {"t": MARKUP})
    engine.dispose()
    collection, _ = collect(url, tmp_path / "collection")

    french = report_text(collection, "fr")
    assert f"Échange : {MARKUP}" in french
    assert "Cours acheté Date d'achat Progression (%) =1+2 <b>Cours</b>" in french

    complete = io.BytesIO()
    write_data_export(
        data_map=load_point3_map(),
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, "fr"),
        translations=translations_for("fr"),
        out=complete,
    )
    purchases = sheet(complete.getvalue(), "purchases.csv")
    assert {row["Cours acheté (course_purchase.course_id (label))"] for row in purchases} == {
        "'=1+2 <b>Cours</b>"
    }
