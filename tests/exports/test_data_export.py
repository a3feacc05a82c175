"""The access report's row limit and the complete export delivered with it: what the PDF leaves
out of a category is said there, and is in the export, in JSON and in CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from exports import data_export
from exports.access_report import export_file_name, render_access_report, rows_shown
from exports.data_export import write_data_export
from inventory.collection import Collection
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import DemoPlatform, load_point3_map, qpdf_check, report_request

LIMIT = 3
EXTRA_EVENTS = 20
LEFT_OUT = {
    "en": "This category holds {count} records; {shown} of them are printed below. All of them "
    "are in the machine-readable export delivered with this report: the file {file}, in "
    "{category}.json and {category}.csv.",
    "fr": "Cette catégorie compte {count} enregistrements ; {shown} sont imprimés ci-dessous. "
    "Tous figurent dans l'export lisible par machine remis avec ce rapport : le fichier {file}, "
    "dans {category}.json et {category}.csv.",
}


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoPlatform, Collection]:
    """The sample learner with 20 more tracking events, one of them a CSV formula, collected."""
    folder = tmp_path_factory.mktemp("heavy")
    platform = DemoPlatform.seed(folder / "platform.sqlite3", load_point3_map())
    platform.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :extra) "
        "INSERT INTO tracking_event (learner_id, cookie_id, occurred_at, page_url, device) "
        "SELECT 1, 'c41d2e8b-9f07-4a3c-b6e5-d8a1f2037c96', '2026-10-01 08:00:00.000000', "
        "CASE WHEN i = 1 THEN '=HYPERLINK(\"https://evil.example\")' "
        "ELSE 'https://www.example.org/cut/' || i END, '@SUM(1+1)' FROM n",
        extra=EXTRA_EVENTS,
    )
    return platform, platform.collect(SAMPLE_LEARNER_EMAIL, folder / "collected")


def _flat(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text)


def _pdf(platform: DemoPlatform, collection: Collection, lang: str, limit: int) -> bytes:
    out = io.BytesIO()
    render_access_report(
        data_map=platform.data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, lang),
        translations=translations_for(lang),
        out=out,
        rows_per_category=limit,
    )
    return out.getvalue()


def _export(platform: DemoPlatform, collection: Collection, lang: str) -> zipfile.ZipFile:
    out = io.BytesIO()
    write_data_export(
        data_map=platform.data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, lang),
        translations=translations_for(lang),
        out=out,
    )
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def _number(count: int, lang: str) -> str:
    return (
        f"{count:,}".replace(",", "\u00a0" if lang == "fr" else ",")
        if count >= 10_000
        else str(count)
    )


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_category_over_the_limit_is_cut_with_the_counts_and_the_export_named(
    heavy: tuple[DemoPlatform, Collection], tmp_path: Path, lang: str
) -> None:
    platform, collection = heavy
    pdf = _pdf(platform, collection, lang, LIMIT)
    qpdf_check(pdf, tmp_path)
    text = _flat(pdf)
    total = collection.count("tracking")
    assert total > EXTRA_EVENTS
    # Tracking's seven columns are shown as one block per record: the first three only.
    record = {"en": "Record {n} of {total}", "fr": "Enregistrement {n} sur {total}"}[lang]
    assert record.format(n=3, total=total) in text
    assert record.format(n=4, total=total) not in text
    for category in collection.categories:
        count = collection.count(category)
        sentence = LEFT_OUT[lang].format(
            count=_number(count, lang),
            shown=min(count, LIMIT),
            file=export_file_name("DSR-2026-0042"),
            category=category,
        )
        # A category under the limit prints all its rows and says nothing of the export.
        assert (sentence in text) is (count > LIMIT), category
    assert "DSR-2026-0042-export.zip" in text


def test_the_export_holds_every_row_of_every_category_in_json_and_csv(
    heavy: tuple[DemoPlatform, Collection],
) -> None:
    platform, collection = heavy
    archive = _export(platform, collection, "en")
    names = set(archive.namelist())
    assert "README.txt" in names
    for category in collection.categories:
        count = collection.count(category)
        document = json.loads(archive.read(f"{category}.json"))
        assert document["category"] == category
        assert len(document["records"]) == count, category
        rows = list(csv.reader(io.StringIO(archive.read(f"{category}.csv").decode("utf-8-sig"))))
        assert len(rows) == count + 1, category  # the header, then one line per row
    pages = {record["tracking_event.page_url"] for record in _records(archive, "tracking")}
    assert {f"https://www.example.org/cut/{i}" for i in range(2, EXTRA_EVENTS + 1)} <= pages
    # Another participant's message in the learner's support thread is there, its body withheld.
    bodies = [record.get("support_message.body") for record in _records(archive, "support")]
    assert "[redacted: another person's data]" in bodies


def test_a_sheet_too_big_to_hold_in_memory_is_spooled_to_disk_unchanged(
    heavy: tuple[DemoPlatform, Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A category's CSV is held in memory while small and written to a private file once it
    grows past `SPOOLED_BYTES` (a big person's memory stays flat): the archive is the same."""
    platform, collection = heavy
    held = _export(platform, collection, "fr")
    monkeypatch.setattr(data_export, "SPOOLED_BYTES", 64)
    spooled = _export(platform, collection, "fr")
    assert held.namelist() == spooled.namelist()
    for name in held.namelist():
        assert held.read(name) == spooled.read(name), name
    assert any(len(held.read(f"{c}.csv")) > 64 for c in collection.categories)


def test_small_categories_are_stored_and_big_ones_deflated(
    heavy: tuple[DemoPlatform, Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A category's files are deflated from `DEFLATE_FROM_ROWS` rows and stored as they are
    below (zlib's set-up per small file cost more than it saved): both read back the same."""
    platform, collection = heavy
    stored = _export(platform, collection, "en")
    tracking = collection.count("tracking")
    monkeypatch.setattr(data_export, "DEFLATE_FROM_ROWS", tracking)
    mixed = _export(platform, collection, "en")
    for name in stored.namelist():
        assert stored.getinfo(name).compress_type == zipfile.ZIP_STORED, name
        assert stored.read(name) == mixed.read(name), name
        category = name.rsplit(".", 1)[0]
        big = name != "README.txt" and collection.count(category) >= tracking
        expected = zipfile.ZIP_DEFLATED if big else zipfile.ZIP_STORED
        assert mixed.getinfo(name).compress_type == expected, name
    assert mixed.getinfo("tracking.csv").compress_size < mixed.getinfo("tracking.csv").file_size


def _records(archive: zipfile.ZipFile, category: str) -> list[dict[str, object]]:
    records: list[dict[str, object]] = json.loads(archive.read(f"{category}.json"))["records"]
    return records


def test_the_exports_csv_neutralises_formulas_and_its_json_keeps_the_value(
    heavy: tuple[DemoPlatform, Collection],
) -> None:
    platform, collection = heavy
    archive = _export(platform, collection, "fr")
    text = archive.read("tracking.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    cells = {cell for row in rows[1:] for cell in row}
    assert '\'=HYPERLINK("https://evil.example")' in cells
    assert "'@SUM(1+1)" in cells
    assert not any(cell.startswith(("=", "@", "+", "-")) for cell in cells)
    pages = {record["tracking_event.page_url"] for record in _records(archive, "tracking")}
    assert '=HYPERLINK("https://evil.example")' in pages
    assert "Export de vos données" in archive.read("README.txt").decode("utf-8")


def test_a_report_under_the_limit_says_nothing_of_a_cut(
    heavy: tuple[DemoPlatform, Collection],
) -> None:
    platform, collection = heavy
    biggest = max(collection.count(category) for category in collection.categories)
    text = _flat(_pdf(platform, collection, "en", biggest))
    assert "printed below" not in text
    assert "export.zip" not in text


def test_printed_rows_are_shared_between_the_tables_of_a_category() -> None:
    assert rows_shown([2, 100, 100], 100) == [2, 49, 49]
    assert rows_shown([5, 5], 100) == [5, 5]
    assert rows_shown([50, 50, 50], 100) == [34, 33, 33]
    assert rows_shown([1000, 1], 3) == [2, 1]
    assert rows_shown([10, 10, 10, 10], 3) == [1, 1, 1, 0]
