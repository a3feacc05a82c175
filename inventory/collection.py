"""The collected data of one subject, kept on disk between collection and rendering.

`collect_subject` streams every category's rows (`iter_category_tables`) into one JSON Lines file
per category and writes a manifest last, so that a half-written collection never opens. Each line
holds one batch of one table's rows: `{"system", "table", "primary_key": [names], "columns":
[names], "rows": [[owned, key values..., column values...], ...]}`, so that a subject with tens of
thousands of rows is written (and read back) a batch at a time, without a dict per row. Values are
typed-encoded so that datetimes, dates, Decimals and bytes come back as such. What the subject
must never receive is not written at all: fields the map marks `disclose: false`, and the
`third_party` fields of rows the subject does not own (another learner's message, R14).
Files are 0600 in a 0700 folder: they hold personal data.
"""

from __future__ import annotations

import base64
import json
import math
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

from inventory.locator import (
    CategoryRow,
    SubjectLocation,
    category_tables,
    iter_category_tables,
)
from inventory.model import DataMap
from inventory.systems import Systems

CollectedRow: TypeAlias = CategoryRow
"""One collected row: where it came from, its key, the category's disclosed values, whose it is."""

MANIFEST = "manifest.json"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
FORMAT_VERSION = 2


_PLAIN = frozenset({type(None), bool, int, str})
"""Types written to JSON as they are: everything else goes through `encode_value`."""
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class CollectionMissing(FileNotFoundError):
    """The folder holds no complete collection (no manifest)."""


def _float(value: float) -> Any:
    return value if math.isfinite(value) else {"$float": repr(value)}


def _binary(value: bytes | bytearray | memoryview) -> Any:
    return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}


_ENCODERS: dict[type, Any] = {
    float: _float,
    datetime: lambda value: {"$datetime": value.isoformat()},
    date: lambda value: {"$date": value.isoformat()},
    time: lambda value: {"$time": value.isoformat()},
    Decimal: lambda value: {"$decimal": str(value)},
    bytes: _binary,
    bytearray: _binary,
    memoryview: _binary,
    timedelta: lambda value: {"$timedelta": value.total_seconds()},
    uuid.UUID: lambda value: {"$uuid": str(value)},
    dict: lambda value: {"$json": value},
    list: lambda value: {"$json": value},
}
"""How each type JSON lacks is tagged, found by the value's class (or its nearest base class):
a collection encodes tens of thousands of values, most of them of a type listed here exactly."""


def encode_value(value: Any) -> Any:
    """Return `value` as JSON, tagging the types JSON lacks so that `decode_value` restores them."""
    if value is None or isinstance(value, bool | int | str):
        return value
    for kind in type(value).__mro__:
        encode = _ENCODERS.get(kind)
        if encode is not None:
            return encode(value)
    return str(value)


_DECODERS: dict[str, Any] = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$decimal": Decimal,
    "$float": float,
    "$bytes": lambda text: base64.b64decode(text),
    "$timedelta": lambda seconds: timedelta(seconds=seconds),
    "$uuid": uuid.UUID,
    "$json": lambda value: value,
}


def decode_value(value: Any) -> Any:
    """Return the value `encode_value` encoded."""
    if isinstance(value, dict) and len(value) == 1:
        ((tag, payload),) = value.items()
        return _DECODERS[tag](payload)
    return value


def _type_name(python_type: type) -> str:
    """Name a column's Python type as the portable export's schema says it."""
    names: list[tuple[type, str]] = [
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (Decimal, "decimal"),
        (datetime, "datetime"),
        (date, "date"),
        (time, "time"),
        (bytes, "binary"),
        (str, "string"),
    ]
    return next((name for kind, name in names if issubclass(python_type, kind)), "string")


@dataclass(frozen=True, slots=True)
class RowBatch:
    """Rows of one table as stored: each `[owned, key values..., column values...]`, encoded."""

    system: str
    table: str
    primary_key: list[str]
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Collection:
    """A subject's collected rows, read back from the folder `collect_subject` wrote."""

    directory: Path
    categories: list[str]
    counts: dict[str, dict[str, int]]
    flags: list[str]
    collected_at: datetime
    field_types: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def open(cls, directory: Path) -> Collection:
        """Read the manifest of the collection in `directory`; raise CollectionMissing without
        one, or when it was written in another format."""
        path = Path(directory) / MANIFEST
        if not path.is_file():
            raise CollectionMissing(f"no collection in {directory}")
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION:  # written by another version: collect again
            raise CollectionMissing(f"the collection in {directory} has another format")
        return cls(
            directory=Path(directory),
            categories=list(manifest["categories"]),
            counts={k: dict(v) for k, v in manifest["counts"].items()},
            flags=list(manifest["flags"]),
            collected_at=datetime.fromisoformat(manifest["collected_at"]),
            field_types={k: dict(v) for k, v in manifest.get("field_types", {}).items()},
        )

    def rows(self, category: str) -> Iterator[CollectedRow]:
        """Stream the rows of `category` from its file, in the order they were collected."""
        if category not in self.categories:
            return
        with (self.directory / f"{category}.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                batch = json.loads(line)
                system, table = batch["system"], batch["table"]
                pk, columns = batch["primary_key"], batch["columns"]
                width = len(pk)
                for row in batch["rows"]:
                    values = [decode_value(v) for v in row[1:]]
                    yield CategoryRow(
                        system=system,
                        table=table,
                        primary_key=dict(zip(pk, values[:width], strict=True)),
                        values=dict(zip(columns, values[width:], strict=True)),
                        owned=bool(row[0]),
                    )

    def batches(self, category: str) -> Iterator[RowBatch]:
        """Stream the rows of `category` batch by batch as they are stored, values still
        encoded (`decode_value`): for a reader that converts millions of values itself."""
        if category not in self.categories:
            return
        with (self.directory / f"{category}.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                batch = json.loads(line)
                yield RowBatch(
                    batch["system"],
                    batch["table"],
                    batch["primary_key"],
                    batch["columns"],
                    batch["rows"],
                )

    def count(self, category: str) -> int:
        return sum(self.counts.get(category, {}).values())

    @property
    def total_rows(self) -> int:
        return sum(sum(per_table.values()) for per_table in self.counts.values())


def _open_private(path: Path) -> int:
    """Open `path` for writing, created 0600 whatever the umask, truncated if it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    return descriptor


def _prepare(directory: Path) -> None:
    """Create the folder 0700, removing what an earlier, failed collection left in it."""
    directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    directory.chmod(DIRECTORY_MODE)
    for leftover in [directory / MANIFEST, *directory.glob("*.jsonl")]:
        leftover.unlink(missing_ok=True)


def collect_subject(
    data_map: DataMap, systems: Systems, location: SubjectLocation, directory: Path
) -> Collection:
    """Collect with one connection per system for the whole run (see `_collect_subject`)."""
    with systems.pinned():
        return _collect_subject(data_map, systems, location, directory)


def _collect_subject(
    data_map: DataMap, systems: Systems, location: SubjectLocation, directory: Path
) -> Collection:
    """Write the subject's rows of every category that has some to `directory`, then the manifest.

    Raise `inventory.systems.SystemUnavailable` untouched when a system cannot be read; the
    folder then holds no manifest.
    """
    directory = Path(directory)
    _prepare(directory)
    categories: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    field_types: dict[str, dict[str, str]] = {}
    for category_id, category in data_map.categories.items():
        if not any(
            (match := location.match(system, table)) is not None and match.keys
            for system, table, _ in category_tables(data_map, category)
        ):
            continue
        hidden: dict[str, set[str]] = {}
        third_party: dict[str, set[str]] = {}
        for f in category.fields:
            table = f"{f.system or category.system}.{f.table}"
            if not f.disclose:
                hidden.setdefault(table, set()).add(f.name)
            if f.third_party:
                third_party.setdefault(table, set()).add(f.name)

        per_table: dict[str, int] = {}
        path = directory / f"{category_id}.jsonl"
        with os.fdopen(_open_private(path), "w", encoding="utf-8") as out:
            for part in iter_category_tables(
                data_map, systems, location, category_id, columns_of=partial(_disclosed, hidden)
            ):
                name = f"{part.system}.{part.table}"
                width = len(part.primary_key)
                # Positions (after `owned`) of the values redacted in rows of other people.
                redacted = [
                    1 + width + i
                    for i, c in enumerate(part.columns)
                    if c in third_party.get(name, ())
                ]
                for batch in part.batches:
                    rows: list[list[Any]] = []
                    for row in batch:
                        owned = row[:width] not in part.not_owned
                        encoded: list[Any] = [owned]
                        encoded.extend([v if type(v) in _PLAIN else encode_value(v) for v in row])
                        if not owned:
                            for i in redacted:
                                encoded[i] = None
                        rows.append(encoded)
                    record = {
                        "system": part.system,
                        "table": part.table,
                        "primary_key": part.primary_key,
                        "columns": part.columns,
                        "rows": rows,
                    }
                    out.write(_ENCODER.encode(record))
                    out.write("\n")
                    per_table[name] = per_table.get(name, 0) + len(rows)
        categories.append(category_id)
        counts[category_id] = per_table
        field_types[category_id] = _field_types(data_map, systems, category_id)
    collection = Collection(
        directory=directory,
        categories=categories,
        counts=counts,
        flags=[flag.message for flag in location.flags],
        collected_at=datetime.now(UTC),
        field_types=field_types,
    )
    _write_manifest(collection)
    return collection


def _disclosed(
    hidden: dict[str, set[str]], system: str, table: str, columns: list[str]
) -> list[str]:
    """Leave out the columns the map marks `disclose: false`: they are not even read."""
    never = hidden.get(f"{system}.{table}", set())
    return [c for c in columns if c not in never]


def _field_types(data_map: DataMap, systems: Systems, category_id: str) -> dict[str, str]:
    """Return the type name of each disclosed field (`table.column`) from the reflected tables."""
    category = data_map.categories[category_id]
    types: dict[str, str] = {}
    for f in category.fields:
        if not f.disclose:
            continue
        column = systems.tables(f.system or category.system)[f.table].c[f.name]
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = str
        types[f.column] = _type_name(python_type)
    return types


def _write_manifest(collection: Collection) -> None:
    manifest = {
        "format": FORMAT_VERSION,
        "categories": collection.categories,
        "counts": collection.counts,
        "flags": collection.flags,
        "collected_at": collection.collected_at.isoformat(),
        "field_types": collection.field_types,
    }
    partial = collection.directory / f"{MANIFEST}.partial"
    with os.fdopen(_open_private(partial), "w", encoding="utf-8") as out:
        json.dump(manifest, out, ensure_ascii=False, indent=1)
    partial.replace(collection.directory / MANIFEST)


__all__ = [
    "Collection",
    "CollectedRow",
    "CollectionMissing",
    "RowBatch",
    "collect_subject",
    "decode_value",
    "encode_value",
]
