"""The portable export (GDPR Art. 20): a zip of JSON and CSV files, one pair per category.

Only what Art. 20 covers goes in (R26): categories whose data the person provided or that was
observed from their use, processed on the basis of consent or a contract. Rows that belong to
someone else (another participant's message) are left out. Values are machine-readable (ISO 8601
in UTC, plain numbers); CSV cells are neutralised against formulas. The same collection gives the
same bytes: entries in a fixed order with a fixed timestamp. The README's words are the
catalogue's that the caller hands in, context "export".
"""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from gettext import NullTranslations
from typing import IO, Any, BinaryIO

from exports.access_report import ReportRequest
from exports.csv_safe import neutralise_cell
from exports.dates import as_instant, short_datetime
from exports.display import shown_text
from inventory.collection import REDACTED, CollectedRow, Collection
from inventory.model import (
    Category,
    CodeDisplay,
    DataMap,
    Field_,
    LegalBasis,
    MoneyDisplay,
    ReferenceDisplay,
)
from inventory.reference_labels import Labels

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
"""Every entry's date: the earliest a zip can hold, so that the bytes do not depend on the clock."""
PORTABLE_BASES = frozenset({LegalBasis.CONSENT, LegalBasis.CONTRACT})


def is_portable(category: Category) -> bool:
    """Art. 20(1): data provided or observed, processed on the basis of consent or a contract
    (for at least one of its purposes, when it has several grounds)."""
    return category.provenance.portable and any(b in PORTABLE_BASES for b in category.bases)


def machine_value(value: Any, stored_zone: tzinfo) -> Any:
    """Return a collected value as JSON: ISO 8601 (UTC) for moments, a time stored without a
    zone read in `stored_zone` (its system's); strings for decimals; null for another person's
    value in a row shared with them."""
    if value is REDACTED:
        return None
    if isinstance(value, datetime):
        return as_instant(value, stored_zone).astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def csv_text(value: Any) -> str:
    """Write a machine value (`machine_value`) as a CSV cell: empty for none, true/false,
    JSON for a structure, else its text, neutralised against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return neutralise_cell(str(value))


def _csv_cell(value: Any, stored_zone: tzinfo) -> str:
    return csv_text(machine_value(value, stored_zone))


def zip_entry(name: str, compress_level: int | None = None) -> zipfile.ZipInfo:
    """Return a deflated zip entry with the fixed timestamp, at zlib's `compress_level` (its
    default when None)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    # zipfile reads the level of an entry opened by ZipInfo from this attribute (3.11, 3.12).
    info._compresslevel = compress_level  # type: ignore[attr-defined]
    return info


def disclosed_fields(category: Category) -> list[Field_]:
    """Return the category's fields that the subject receives, in the map's order."""
    return [f for f in category.fields if f.disclose]


# -- the label beside a raw value (`display`) ---------------------------------------------------

LABEL_SUFFIX = " (label)"
"""Appended to a field's `table.column` to name the column of its label (`learner.country
(label)`): the raw value stays for portability, the label beside it for a person."""


def labelled(field: Field_) -> bool:
    """Say whether a field gets a label column: a code, an amount or a reference (a date is
    already readable in ISO 8601)."""
    return isinstance(field.display, MoneyDisplay | CodeDisplay | ReferenceDisplay)


def sheet_columns(category: Category) -> list[tuple[Field_, bool]]:
    """Return the export's columns: each disclosed field, followed by its label's when it has one
    (`True`)."""
    columns: list[tuple[Field_, bool]] = []
    for f in disclosed_fields(category):
        columns.append((f, False))
        if labelled(f):
            columns.append((f, True))
    return columns


def label_text(
    field: Field_,
    value: Any,
    row: Mapping[str, Any],
    *,
    system: str,
    lang: str,
    labels: Labels,
    zones: Mapping[str, tzinfo],
    zone: tzinfo,
) -> str | None:
    """Return the label of a raw value in `lang`, None for an empty value."""
    return shown_text(
        field,
        value,
        lang=lang,
        system=system,
        row=row,
        labels=labels,
        zone=zone,
        stored_zone=zones[system],
    )


# -- end of the labels --------------------------------------------------------------------------


def _own_rows(collection: Collection, category_id: str) -> Iterator[CollectedRow]:
    return (row for row in collection.rows(category_id) if row.owned)


def write_portability_zip(
    *,
    data_map: DataMap,
    collection: Collection,
    request: ReportRequest,
    translations: NullTranslations,
    out: BinaryIO,
) -> None:
    """Write the portable export of `collection` to `out`: README.txt, then JSON and CSV files.

    The README is in the request's language, whose catalogue `translations` is.
    """
    lang = "fr" if request.language == "fr" else "en"
    t = translations
    zones = {system: data_map.system_zone(system) for system in data_map.systems}
    portable = [
        category_id
        for category_id in collection.categories
        if collection.count(category_id) and is_portable(data_map.categories[category_id])
    ]
    listing = "\n".join(
        f"- {category_id}: {data_map.categories[category_id].title.get(lang)}"
        for category_id in portable
    )
    readme = t.pgettext(
        "export",
        "Export of your personal data (portability, GDPR Article 20)\n"
        "%(organisation)s — request %(reference)s, prepared on %(completed_at)s\n"
        "\n"
        "This archive holds the data you provided to us or that results from your use of our "
        "services, where its processing rests on your consent or on a contract (GDPR Article "
        "20). The rest of your data is in the access report (PDF).\n"
        "\n"
        "For each category, two files:\n"
        '- <category>.json: the data as JSON, with a "schema" block describing each field '
        "(name, label in French and English, type). Dates and times in ISO 8601, UTC.\n"
        "- <category>.csv: the same data as CSV (UTF-8 with a BOM, comma-separated), for a "
        "spreadsheet. A cell starting with =, +, - or @ is preceded by an apostrophe so that "
        "a spreadsheet does not run it as a formula.\n"
        "\n"
        "Messages written by other people are not included.\n"
        "\n"
        "Categories:\n"
        "%(categories)s\n",
    ) % {
        "organisation": data_map.organisation.name,
        "reference": request.reference,
        "completed_at": short_datetime(request.completed_at, lang, data_map.organisation.zone),
        "categories": listing or t.pgettext("export", "(no portable data was found)"),
    }
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zip_entry("README.txt"), readme.replace("\n", "\r\n").encode("utf-8"))
        for category_id in portable:
            category = data_map.categories[category_id]
            types = collection.field_types.get(category_id, {})
            labels, zone = collection.labels, data_map.organisation.zone
            with archive.open(zip_entry(f"{category_id}.json"), "w") as raw:
                write_category_json(
                    raw,
                    category_id,
                    category,
                    types,
                    zones,
                    _own_rows(collection, category_id),
                    lang=lang,
                    labels=labels,
                    zone=zone,
                )
            with archive.open(zip_entry(f"{category_id}.csv"), "w") as raw:
                rows = _own_rows(collection, category_id)
                write_category_csv(raw, category, lang, zones, rows, labels=labels, zone=zone)


def fields_by_table(category: Category) -> dict[tuple[str, str], list[Field_]]:
    """Group the category's disclosed fields by the (system, table) that holds them."""
    by_table: dict[tuple[str, str], list[Field_]] = {}
    for f in disclosed_fields(category):
        by_table.setdefault((f.system or category.system, f.table), []).append(f)
    return by_table


def write_category_json(
    raw: IO[bytes],
    category_id: str,
    category: Category,
    types: dict[str, str],
    zones: Mapping[str, tzinfo],
    rows: Iterator[CollectedRow],
    *,
    lang: str = "en",
    labels: Labels | None = None,
    zone: tzinfo | None = None,
) -> None:
    """Stream one category as JSON: its description and schema, then its records one by one,
    each with the fields of its own table (and the label of a coded value, in `lang`)."""
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    text.write(json_head(category_id, category, types))
    by_table = fields_by_table(category)
    encoder = json.JSONEncoder(ensure_ascii=False)
    separator = "\n  "
    for row in rows:
        stored_zone = zones[row.system]
        values = row.values
        record: dict[str, Any] = {}
        for f in by_table.get((row.system, row.table), ()):
            record[f.column] = machine_value(values.get(f.name), stored_zone)
            if labelled(f):
                record[f.column + LABEL_SUFFIX] = label_text(
                    f,
                    values.get(f.name),
                    values,
                    system=row.system,
                    lang=lang,
                    labels=labels or {},
                    zones=zones,
                    zone=zone or stored_zone,
                )
        text.write(separator + encoder.encode(record))
        separator = ",\n  "
    text.write(JSON_TAIL)
    text.flush()
    text.detach()


JSON_TAIL = "\n ]\n}\n"
"""What closes a category's JSON file after its last record."""


_HEADS: dict[tuple[str, int, tuple[tuple[str, str], ...]], tuple[Category, str]] = {}
_HEADS_LOCK = threading.Lock()
HEADS_CACHE_SIZE = 512
"""Categories whose JSON head is kept per process: the same map writes the same heads in every
export, and indented JSON is encoded in Python, slowly."""


def json_head(category_id: str, category: Category, types: dict[str, str]) -> str:
    """Return the start of a category's JSON file, up to the opening of its records: its
    title, description and schema (each field's name, labels and type)."""
    key = (category_id, id(category), tuple(sorted(types.items())))
    with _HEADS_LOCK:
        found = _HEADS.get(key)
    # The category is kept with its head: its id is not reused while it is cached.
    if found is not None and found[0] is category:
        return found[1]
    head = _json_head(category_id, category, types)
    with _HEADS_LOCK:
        if len(_HEADS) >= HEADS_CACHE_SIZE:
            _HEADS.clear()
        _HEADS[key] = (category, head)
    return head


def _json_head(category_id: str, category: Category, types: dict[str, str]) -> str:
    schema = {
        "fields": [
            {
                "name": f.column + LABEL_SUFFIX,
                "label": {"fr": f.label.fr, "en": f.label.en},
                "type": "string",
                "label_of": f.column,
            }
            if is_label
            else {
                "name": f.column,
                "label": {"fr": f.label.fr, "en": f.label.en},
                "type": types.get(f.column, "string"),
            }
            for f, is_label in sheet_columns(category)
        ]
    }
    head = {
        "category": category_id,
        "title": {"fr": category.title.fr, "en": category.title.en},
        "description": {"fr": category.description.fr, "en": category.description.en},
        "schema": schema,
    }
    return json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "records": ['


def csv_header(category: Category, lang: str) -> list[str]:
    """Name each CSV column by its field's label in `lang` and its `table.column`; a label
    column by its `table.column (label)`."""
    return [
        neutralise_cell(f"{f.label.get(lang)} ({f.column}{LABEL_SUFFIX if is_label else ''})")
        for f, is_label in sheet_columns(category)
    ]


def write_category_csv(
    raw: IO[bytes],
    category: Category,
    lang: str,
    zones: Mapping[str, tzinfo],
    rows: Iterator[CollectedRow],
    *,
    labels: Labels | None = None,
    zone: tzinfo | None = None,
) -> None:
    """Stream one category as CSV for a spreadsheet: one column per field (and one for the label
    of a coded value, in `lang`), blank where n/a."""
    columns = sheet_columns(category)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(csv_header(category, lang))
    by_table = fields_by_table(category)
    for row in rows:
        stored_zone = zones[row.system]
        values = row.values
        own = by_table.get((row.system, row.table), [])
        cells = []
        for f, is_label in columns:
            if f not in own:
                cells.append("")
            elif is_label:
                shown = label_text(
                    f,
                    values.get(f.name),
                    values,
                    system=row.system,
                    lang=lang,
                    labels=labels or {},
                    zones=zones,
                    zone=zone or stored_zone,
                )
                cells.append(csv_text(shown))
            else:
                cells.append(_csv_cell(values.get(f.name), stored_zone))
        writer.writerow(cells)
    text.flush()
    text.detach()


__all__ = [
    "JSON_TAIL",
    "LABEL_SUFFIX",
    "csv_header",
    "csv_text",
    "disclosed_fields",
    "fields_by_table",
    "is_portable",
    "label_text",
    "labelled",
    "json_head",
    "machine_value",
    "sheet_columns",
    "write_category_csv",
    "write_category_json",
    "write_portability_zip",
    "zip_entry",
]
