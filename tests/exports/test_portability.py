"""The portable export (Art. 20, R26) of the demo platform's sample learner."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from exports.portability import is_portable, json_head, write_portability_zip
from inventory.collection import Collection
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import DemoPlatform, load_point3_map, report_request


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> DemoPlatform:
    return DemoPlatform.seed(
        tmp_path_factory.mktemp("demo") / "platform.sqlite3", load_point3_map()
    )


def export(platform: DemoPlatform, collection: Collection, lang: str = "fr") -> bytes:
    out = io.BytesIO()
    write_portability_zip(
        data_map=platform.data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, lang),
        translations=translations_for(lang),
        out=out,
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def collection(platform: DemoPlatform, tmp_path_factory: pytest.TempPathFactory) -> Collection:
    return platform.collect(SAMPLE_LEARNER_EMAIL, tmp_path_factory.mktemp("collection"))


@pytest.fixture(scope="module")
def archive(platform: DemoPlatform, collection: Collection) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(export(platform, collection)))


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV starts with a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_only_provided_or_observed_data_under_consent_or_contract(
    platform: DemoPlatform, archive: zipfile.ZipFile
) -> None:
    names = archive.namelist()
    categories = [name.removesuffix(".json") for name in names if name.endswith(".json")]
    assert names[0] == "README.txt"
    assert names[1:] == [f"{c}.{kind}" for c in categories for kind in ("json", "csv")]
    assert all(is_portable(platform.data_map.categories[c]) for c in categories)
    # Invoices are kept under a legal obligation: in the report, not in the export.
    assert "invoices" not in categories
    assert {"contact", "tracking", "marketing", "support", "optional_profile"} <= set(categories)


def test_json_describes_its_fields_and_holds_her_records(
    platform: DemoPlatform, archive: zipfile.ZipFile
) -> None:
    document = json.loads(archive.read("exam_registration.json"))
    fields = {f["name"]: f for f in document["schema"]["fields"]}
    assert fields["exam_registration.birth_date"] == {
        "name": "exam_registration.birth_date",
        "label": {"fr": "Date de naissance", "en": "Date of birth"},
        "type": "date",
    }
    assert fields["exam_registration.registered_at"]["type"] == "datetime"
    (record,) = document["records"]
    assert record["exam_registration.birth_date"] == "1994-05-17"
    assert record["exam_registration.registered_at"].endswith("Z")

    tracking = json.loads(archive.read("tracking.json"))
    assert len(tracking["records"]) == 8
    assert {f["name"]: f["type"] for f in tracking["schema"]["fields"]}[
        "tracking_event.duration_seconds"
    ] == "integer"


def test_fields_not_disclosed_and_other_peoples_rows_are_left_out(
    archive: zipfile.ZipFile,
) -> None:
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode("utf-8-sig")
    assert "password_hash" not in everything
    assert "psp_token" not in everything
    assert "pm_1Zoe4fKx9QvR2LmT7sYw3NbH" not in everything
    assert "Je confirme, je suis le collègue" not in everything
    support = json.loads(archive.read("support.json"))
    bodies = [r["support_message.body"] for r in support["records"] if "support_message.body" in r]
    assert len(bodies) == 6 and all(bodies)


def test_csv_has_labelled_columns_and_neutralised_cells(
    platform: DemoPlatform, tmp_path: Path
) -> None:
    changed = platform.copy(tmp_path / "formula.sqlite3")
    changed.execute("UPDATE learner SET first_name = '=HYPERLINK(\"http://x\")' WHERE id = 1")
    changed.execute("UPDATE learner SET city = '@SUM(A1)', street = '-2+3' WHERE id = 1")
    collection = changed.collect(SAMPLE_LEARNER_EMAIL, tmp_path / "collection")
    archive = zipfile.ZipFile(io.BytesIO(export(changed, collection, "en")))
    header, row = read_csv(archive.read("contact.csv"))
    values = dict(zip(header, row, strict=True))
    assert values["First name (learner.first_name)"] == '\'=HYPERLINK("http://x")'
    assert values["City (learner.city)"] == "'@SUM(A1)"
    assert values["Street address (learner.street)"] == "'-2+3"
    assert values["Phone number (learner.phone)"] == "'+33612345678"
    # JSON keeps the values as they are: it is not opened by a spreadsheet.
    record = json.loads(archive.read("contact.json"))["records"][0]
    assert record["learner.first_name"] == '=HYPERLINK("http://x")'


def test_export_is_deterministic(platform: DemoPlatform, collection: Collection) -> None:
    first, second = export(platform, collection), export(platform, collection)
    assert first == second
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert archive.testzip() is None


@pytest.mark.parametrize(
    ("lang", "words"),
    [("fr", "portabilité, article 20 du RGPD"), ("en", "portability, GDPR Article 20")],
)
def test_readme_is_in_the_requesters_language(
    platform: DemoPlatform, collection: Collection, lang: str, words: str
) -> None:
    readme = zipfile.ZipFile(io.BytesIO(export(platform, collection, lang))).read("README.txt")
    text = readme.decode("utf-8")
    assert words in text
    assert "DSR-2026-0042" in text


def test_a_subject_with_no_data_gets_a_readme_alone(platform: DemoPlatform, tmp_path: Path) -> None:
    collection = platform.collect("nobody@example.org", tmp_path / "collection")
    archive = zipfile.ZipFile(io.BytesIO(export(platform, collection, "en")))
    assert archive.namelist() == ["README.txt"]
    assert "(no portable data was found)" in archive.read("README.txt").decode("utf-8")


def test_a_json_head_is_the_categorys_own() -> None:
    """Heads are kept per process: another category, or other column types, get their own."""
    data_map = load_point3_map()
    category_id = next(iter(data_map.categories))
    category = data_map.categories[category_id]
    first = json_head(category_id, category, {})
    assert json_head(category_id, category, {}) is first
    renamed = category.model_copy(update={"title": category.title.model_copy(update={"en": "X"})})
    assert '"en": "X"' in json_head(category_id, renamed, {})
    column = category.fields[0].column
    typed = json_head(category_id, category, {column: "integer"})
    assert json.loads(typed + "]}")["schema"]["fields"][0]["type"] == "integer"
    assert json_head(category_id, category, {}) is first
