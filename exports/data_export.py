"""The complete machine-readable export delivered with every access report (GDPR Art. 15(3)).

The PDF prints a readable number of rows per category; this zip holds all of them, per category a
JSON file and a CSV file, with the same values the portable export writes (ISO 8601 in UTC,
formula-safe CSV: `exports.portability` writes both). Unlike the portable export (Art. 20), it
holds every category, and the rows the subject shares with others, whose other people's fields
are redacted as in the PDF.

Memory does not grow with the rows: each file is written row by row into its zip entry (zip64
for big categories) from the collection, read lazily. A fast compression level keeps a million
rows within seconds. The same collection gives the same bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from gettext import NullTranslations
from typing import BinaryIO

from exports.access_report import ReportRequest
from exports.dates import short_datetime
from exports.portability import write_category_csv, write_category_json, zip_entry
from inventory.collection import CollectedRow, Collection
from inventory.model import Category, DataMap

COMPRESS_LEVEL = 1
"""zlib's fastest level: a million rows of JSON and CSV compress about as well as at the default
level's three quarters of the size, in a fraction of the time."""
ZIP64_FROM_ROWS = 100_000
"""Categories of at least this many rows get zip64 entries (a file may pass 2 GiB)."""


def _redacted(
    rows: Iterable[CollectedRow], third_party: dict[str, frozenset[str]], marker: str
) -> Iterator[CollectedRow]:
    """Pass rows through, writing `marker` in the other person's fields of rows not the
    subject's (the collection left them empty), so that the reader sees they were withheld."""
    for row in rows:
        hidden = third_party.get(f"{row.system}.{row.table}")
        if row.owned or not hidden:
            yield row
            continue
        values = {name: marker if name in hidden else v for name, v in row.values.items()}
        yield replace(row, values=values)


def _third_party(category: Category) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for f in category.fields:
        if f.third_party and f.disclose:
            found.setdefault(f"{f.system or category.system}.{f.table}", set()).add(f.name)
    return {table: frozenset(names) for table, names in found.items()}


def write_data_export(
    *,
    data_map: DataMap,
    collection: Collection,
    request: ReportRequest,
    translations: NullTranslations,
    out: BinaryIO,
) -> None:
    """Write every collected row of every category to `out` as a zip: README.txt, then per
    category `<category>.json` and `<category>.csv`; the README in the request's language, whose
    catalogue `translations` is."""
    lang = "fr" if request.language == "fr" else "en"
    t = translations
    zones = {system: data_map.system_zone(system) for system in data_map.systems}
    categories = [c for c in collection.categories if collection.count(c)]
    listing = "\n".join(
        f"- {category_id}: {data_map.categories[category_id].title.get(lang)} "
        f"({collection.count(category_id)})"
        for category_id in categories
    )
    readme = t.pgettext(
        "export",
        "Export of your personal data (right of access, GDPR Article 15)\n"
        "%(organisation)s — request %(reference)s, prepared on %(completed_at)s\n"
        "\n"
        "This archive holds all the personal data we found about you, every record of every "
        "category, delivered with the access report (PDF). The report explains each category "
        "(purposes, legal basis, recipients, retention, source) and prints a limited number of "
        "records per category; this archive holds all of them.\n"
        "\n"
        "For each category, two files:\n"
        '- <category>.json: the data as JSON, with a "schema" block describing each field '
        "(name, label in French and English, type). Dates and times in ISO 8601, UTC.\n"
        "- <category>.csv: the same data as CSV (UTF-8 with a BOM, comma-separated), for a "
        "spreadsheet. A cell starting with =, +, - or @ is preceded by an apostrophe so that "
        "a spreadsheet does not run it as a formula.\n"
        "\n"
        "Where a record belongs to a conversation with another person, that person's data is "
        "replaced by %(redacted)s.\n"
        "\n"
        "Categories (number of records):\n"
        "%(categories)s\n",
    ) % {
        "organisation": data_map.organisation.name,
        "reference": request.reference,
        "completed_at": short_datetime(request.completed_at, lang, data_map.organisation.zone),
        "redacted": t.pgettext("report", "[redacted: another person's data]"),
        "categories": listing or t.pgettext("export", "(no personal data was found)"),
    }
    marker = t.pgettext("report", "[redacted: another person's data]")
    with zipfile.ZipFile(out, "w") as archive:
        readme_entry = zip_entry("README.txt", COMPRESS_LEVEL)
        archive.writestr(readme_entry, readme.replace("\n", "\r\n").encode("utf-8"))
        for category_id in categories:
            category = data_map.categories[category_id]
            types = collection.field_types.get(category_id, {})
            third_party = _third_party(category)
            big = collection.count(category_id) >= ZIP64_FROM_ROWS
            json_entry = zip_entry(f"{category_id}.json", COMPRESS_LEVEL)
            with archive.open(json_entry, "w", force_zip64=big) as raw:
                rows = _redacted(collection.rows(category_id), third_party, marker)
                write_category_json(raw, category_id, category, types, zones, rows)
            csv_entry = zip_entry(f"{category_id}.csv", COMPRESS_LEVEL)
            with archive.open(csv_entry, "w", force_zip64=big) as raw:
                rows = _redacted(collection.rows(category_id), third_party, marker)
                write_category_csv(raw, category, lang, zones, rows)


__all__ = ["COMPRESS_LEVEL", "write_data_export"]
