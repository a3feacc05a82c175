"""The complete machine-readable export delivered with every access report (GDPR Art. 15(3)).

The PDF prints a readable number of rows per category; this zip holds all of them, per category a
JSON file and a CSV file, with the same values the portable export writes (ISO 8601 in UTC,
formula-safe CSV: `exports.portability` writes both). Unlike the portable export (Art. 20), it
holds every category, and the rows the subject shares with others, whose other people's fields
are redacted as in the PDF.

Memory does not grow with the rows: the collection is read a stored batch at a time, each batch
converted once, column by column, and written at once into the JSON file's zip entry (a line of
records per batch) and into the CSV, spooled to a private, already-deleted file in the
collection's folder and copied into the zip after it (zip64 entries for big categories). zlib's
fastest level keeps a million rows within seconds. The same collection gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from gettext import NullTranslations
from typing import Any, BinaryIO

from exports.access_report import ReportRequest
from exports.csv_safe import FORMULA_PREFIXES, UTF8_BOM, neutralise_cell
from exports.dates import short_datetime
from exports.portability import (
    JSON_TAIL,
    LABEL_SUFFIX,
    csv_header,
    csv_text,
    fields_by_table,
    json_head,
    label_text,
    labelled,
    machine_value,
    sheet_columns,
    zip_entry,
)
from inventory.collection import Collection, RowBatch, decode_value, redacted_value
from inventory.model import Category, DataMap, Field_, MoneyDisplay
from inventory.reference_labels import Labels

COMPRESS_LEVEL = 1
"""zlib's fastest level: the export of a million rows compresses several times faster than at
the default level, for a file about a fifth bigger."""
ZIP64_FROM_ROWS = 100_000
"""Categories of at least this many rows get zip64 entries (a file may pass 2 GiB)."""
COPY_BLOCK = 1 << 20
DEFLATE_FROM_ROWS = 200
"""A category's files are deflated from this many rows, and stored as they are below: setting
up zlib for each of a typical learner's thirty small files cost more than writing them (1 ms of
an export's 4), for a saving of a few kilobytes."""
SPOOLED_BYTES = 1 << 20
"""A category's CSV is held in memory up to this size while its JSON is written, and spooled
to a private file beside the collection beyond: memory stays flat for a big person, and a
typical one's fifteen small sheets cost no file each."""


def _datetime_value(text: str, zone: tzinfo) -> str:
    """Return a stored moment (its ISO text) as the export writes it, in UTC: the common case,
    already in UTC, without parsing it."""
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    value: str = machine_value(datetime.fromisoformat(text), zone)
    return value


_AS_STORED = frozenset({"$date", "$time", "$decimal", "$bytes", "$uuid", "$json", "$timedelta"})
"""Tags whose stored payload is already the machine value (ISO text, decimal text, base64)."""


def _machine(encoded: dict[str, Any], zone: tzinfo) -> Any:
    """Return the machine value of one tagged stored value (`inventory.collection`)."""
    ((tag, payload),) = encoded.items()
    if tag == "$datetime":
        return _datetime_value(payload, zone)
    if tag in _AS_STORED:
        return payload
    return machine_value(decode_value(encoded), zone)


_TEXT = frozenset({str, type(None)})
_FORMULA_MARKS = tuple("\x00" + prefix for prefix in FORMULA_PREFIXES)


def _sheet_column(column: list[Any]) -> list[Any]:
    """Return one column of machine values as CSV cells (None is written empty), as `csv_text`
    writes them; a column of text none of whose cells a spreadsheet would run, or of whole
    numbers none negative, is kept as it is, which is checked without a call per cell."""
    kinds = set(map(type, column))
    if kinds <= _TEXT:
        joined = "\x00" + "\x00".join(filter(None, column))
        if not any(mark in joined for mark in _FORMULA_MARKS):
            return column
        return [None if v is None else neutralise_cell(v) for v in column]
    if kinds == {int} and min(column) >= 0:
        return column
    return [csv_text(v) for v in column]


def _batch_columns(
    batch: RowBatch, fields: list[Field_], zone: tzinfo, marker: str
) -> list[list[Any]]:
    """Return the machine values of `fields` in the batch's rows, column by column, with the
    other person's fields of rows not the subject's replaced by `marker`."""
    start = 1 + len(batch.primary_key)
    where = {name: start + i for i, name in enumerate(batch.columns)}
    rows = batch.rows
    foreign = [n for n, row in enumerate(rows) if not row[0]]
    columns = []
    for f in fields:
        position = where[f.name]
        column = [row[position] for row in rows]
        if dict in set(map(type, column)):
            column = [
                marker if redacted_value(v) else _machine(v, zone) if type(v) is dict else v
                for v in column
            ]
        if f.third_party:
            for n in foreign:
                column[n] = marker
        columns.append(column)
    return columns


@dataclass(frozen=True)
class _Shown:
    """What a label column needs: the reader's language, the reference labels, the zones."""

    lang: str
    labels: Labels
    zones: Mapping[str, tzinfo]
    zone: tzinfo


def _label_column(batch: RowBatch, f: Field_, shown: _Shown, marker: str) -> list[Any]:
    """Return the label of `f`'s value in each row of the batch (None for an empty value), the
    other person's value in rows not the subject's replaced by `marker`."""
    start = 1 + len(batch.primary_key)
    # The field's value, and the currency column an amount is in (all a label reads of a row).
    currency = f.display.money.currency_column if isinstance(f.display, MoneyDisplay) else None
    read = [f.name, *([currency.split(".", 1)[1]] if currency else [])]
    where = {name: start + batch.columns.index(name) for name in read if name in batch.columns}
    labels: list[Any] = []
    for row in batch.rows:
        if f.third_party and not row[0]:
            labels.append(marker)
            continue
        values = {
            name: decode_value(row[at]) if type(row[at]) is dict else row[at]
            for name, at in where.items()
        }
        labels.append(
            label_text(
                f,
                values[f.name],
                values,
                system=batch.system,
                lang=shown.lang,
                labels=shown.labels,
                zones=shown.zones,
                zone=shown.zone,
            )
        )
    return labels


def _write_category(
    archive: zipfile.ZipFile,
    collection: Collection,
    category_id: str,
    category: Category,
    *,
    lang: str,
    zones: Mapping[str, tzinfo],
    marker: str,
    shown: _Shown,
) -> None:
    """Write `<category>.json` into the archive while `<category>.csv` is spooled (in memory up
    to `SPOOLED_BYTES`, beyond in a private, already-deleted file beside the collection), then
    copied in: the stored rows are read and converted once, a batch at a time, column by column.
    The files are stored as they are below `DEFLATE_FROM_ROWS` rows, each made in memory and
    written in one piece (a typical person's categories are a few rows: their streams, wrappers
    and spool cost more than the rows)."""
    big = collection.count(category_id) >= ZIP64_FROM_ROWS
    types = collection.field_types.get(category_id, {})
    deflated = collection.count(category_id) >= DEFLATE_FROM_ROWS
    rows = partial(
        _write_rows, collection, category_id, category, zones=zones, marker=marker, shown=shown
    )
    if not deflated and not big:
        parts = [json_head(category_id, category, types)]
        sheet = io.StringIO(newline="")
        writer = csv.writer(sheet, lineterminator="\r\n")
        writer.writerow(csv_header(category, lang))
        rows(parts.append, writer)
        parts.append(JSON_TAIL)
        archive.writestr(_entry(f"{category_id}.json", False), "".join(parts).encode("utf-8"))
        csv_bytes = (UTF8_BOM + sheet.getvalue()).encode("utf-8")
        archive.writestr(_entry(f"{category_id}.csv", False), csv_bytes)
        return
    json_entry = _entry(f"{category_id}.json", deflated)
    with tempfile.SpooledTemporaryFile(SPOOLED_BYTES, dir=str(collection.directory)) as spool:
        spool.write(UTF8_BOM.encode("utf-8"))  # as utf-8-sig would, without its checks per write
        spooled = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        writer = csv.writer(spooled, lineterminator="\r\n")
        writer.writerow(csv_header(category, lang))
        with archive.open(json_entry, "w", force_zip64=big) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            text.write(json_head(category_id, category, types))
            rows(text.write, writer)
            text.write(JSON_TAIL)
            text.flush()
            text.detach()
        spooled.flush()
        spooled.detach()
        spool.seek(0)
        csv_entry = _entry(f"{category_id}.csv", deflated)
        with archive.open(csv_entry, "w", force_zip64=big) as out:
            shutil.copyfileobj(spool, out, COPY_BLOCK)


def _write_rows(
    collection: Collection,
    category_id: str,
    category: Category,
    write_json: Callable[[str], Any],
    writer: Any,
    *,
    zones: Mapping[str, tzinfo],
    marker: str,
    shown: _Shown,
) -> None:
    """Write the category's records to its JSON file (`write_json`, after its head) and its rows
    to its CSV `writer` (after the header), a stored batch at a time, column by column."""
    by_table = fields_by_table(category)
    sheet_cols = sheet_columns(category)
    encode: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False).encode
    separator = "\n  "
    for batch in collection.batches(category_id):
        if not batch.rows:
            continue
        present = [
            f for f in by_table.get((batch.system, batch.table), []) if f.name in batch.columns
        ]
        raw_columns = _batch_columns(batch, present, zones[batch.system], marker)
        keys, columns, cells_of = [], [], []
        for f, column in zip(present, raw_columns, strict=True):
            keys.append(f.column)
            columns.append(column)
            cells_of.append((id(f), False))
            if labelled(f):
                keys.append(f.column + LABEL_SUFFIX)
                columns.append(_label_column(batch, f, shown, marker))
                cells_of.append((id(f), True))
        if columns:
            records = [
                dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)
            ]
        else:
            records = [{} for _ in batch.rows]
        # One line per batch of records: one call of the C encoder for hundreds of rows.
        write_json(separator + encode(records)[1:-1])
        separator = ",\n  "
        cells = {at: _sheet_column(column) for at, column in zip(cells_of, columns, strict=True)}
        blank = [None] * len(batch.rows)
        writer.writerows(
            zip(
                *(cells.get((id(f), is_label), blank) for f, is_label in sheet_cols),
                strict=True,
            )
        )


def _entry(name: str, deflated: bool) -> zipfile.ZipInfo:
    """A zip entry deflated at `COMPRESS_LEVEL`, or stored as it is (`DEFLATE_FROM_ROWS`)."""
    entry = zip_entry(name, COMPRESS_LEVEL)
    if not deflated:
        entry.compress_type = zipfile.ZIP_STORED
    return entry


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
        readme_entry = _entry("README.txt", deflated=False)
        archive.writestr(readme_entry, readme.replace("\n", "\r\n").encode("utf-8"))
        for category_id in categories:
            _write_category(
                archive,
                collection,
                category_id,
                data_map.categories[category_id],
                lang=lang,
                zones=zones,
                marker=marker,
                shown=_Shown(lang, collection.labels, zones, data_map.organisation.zone),
            )


__all__ = ["COMPRESS_LEVEL", "write_data_export"]
