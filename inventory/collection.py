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
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from itertools import groupby
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, TextIO, TypeAlias, TypeVar

from inventory.locator import (
    CategoryRow,
    SubjectLocation,
    category_tables,
    iter_category_tables,
    read_ahead,
)
from inventory.model import Category, DataMap
from inventory.reference_labels import read_reference_labels
from inventory.systems import Systems, SystemUnavailable, is_schema_error

CollectedRow: TypeAlias = CategoryRow
"""One collected row: where it came from, its key, the category's disclosed values, whose it is."""

_T = TypeVar("_T")

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


class Redacted:
    """Stands for another person's value in a row the subject shares with them (the map's
    `sides`): the reports print it as redacted, never as a value."""

    def __repr__(self) -> str:
        return "REDACTED"


REDACTED = Redacted()
_REDACTED_TAG = "$redacted"
_DECODERS[_REDACTED_TAG] = lambda _payload: REDACTED


def redacted_value(value: Any) -> bool:
    """Tell whether a value, decoded or still encoded, is another side's redacted value."""
    return value is REDACTED or (isinstance(value, dict) and _REDACTED_TAG in value)


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
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """The labels of the rows referred to (`inventory.reference_labels`)."""

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
            labels={k: dict(v) for k, v in manifest.get("labels", {}).items()},
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
    for leftover in [directory / MANIFEST, *directory.glob("*.jsonl"), *directory.glob("*.part")]:
        leftover.unlink(missing_ok=True)


SystemProgress: TypeAlias = Callable[[str, str, int | None], None]
"""Told (system, "running", None) when a system's collection starts, (system, "done", rows) when
it ends, (system, "failed", None) when it fails or is stopped because another one failed."""


@dataclass(frozen=True)
class _Part:
    """One table of one category to collect: the `index`-th of the category's tables."""

    category_id: str
    index: int
    system: str
    table: str


def collect_subject(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    directory: Path,
    *,
    on_system: SystemProgress | None = None,
) -> Collection:
    """Write the subject's rows of every category that has some to `directory`, then the manifest.

    Each system is read in a thread of its own, on one connection for its whole part (a system's
    reads do not wait for another's); the files are the same, line for line, as if the systems
    were read one after the other. `on_system` is told each system's progress (`SystemProgress`).
    Raise `inventory.systems.SystemUnavailable` untouched when a system cannot be read (the first
    in the map's order when several fail; the others are stopped and waited for); the folder
    then holds no manifest.
    """
    directory = Path(directory)
    _prepare(directory)
    parts: dict[str, list[_Part]] = {system: [] for system in data_map.systems}
    categories: list[str] = []
    for category_id, category in data_map.categories.items():
        found = [
            _Part(category_id, index, system, table)
            for index, (system, table, _) in enumerate(category_tables(data_map, category))
            if (match := location.match(system, table)) is not None and match.keys
        ]
        if found:
            categories.append(category_id)
            for part in found:
                parts[part.system].append(part)
    progress = on_system or _no_progress
    busy = [system for system, wanted in parts.items() if wanted]
    for system in data_map.systems:
        if system not in busy:
            progress(system, "running", None)
            progress(system, "done", 0)
    writer = _RowWriter(data_map, systems, location)
    if len(busy) <= 1:  # nothing to overlap: write the category files directly
        for system in busy:
            _run_system(system, progress, partial(writer.write_files, directory, parts[system]))
    else:
        try:
            _run_in_parallel(busy, progress, partial(writer.write_parts, directory, parts))
        except BaseException:
            for leftover in directory.glob("*.part"):  # personal data of a failed collection
                leftover.unlink(missing_ok=True)
            raise
        _join_parts(directory, categories, [p for wanted in parts.values() for p in wanted])
    counts: dict[str, dict[str, int]] = {}
    for category_id in categories:
        counts[category_id] = {
            f"{system}.{table}": writer.counts[(category_id, system, table)]
            for system, table, _ in category_tables(data_map, data_map.categories[category_id])
            if (category_id, system, table) in writer.counts
        }
    collection = Collection(
        directory=directory,
        categories=categories,
        counts=counts,
        flags=[flag.message for flag in location.flags],
        collected_at=datetime.now(UTC),
        field_types={c: _types_of(data_map, systems, c) for c in categories},
    )
    collection.labels = read_reference_labels(data_map, systems, collection)
    _write_manifest(collection)
    return collection


def _no_progress(system: str, state: str, rows: int | None) -> None:
    """Tell no one."""


class _Stopped(Exception):
    """Another system failed: this one's collection stops at its next batch."""


def _run_system(system: str, progress: SystemProgress, collect: Callable[[str], int]) -> None:
    """Collect `system` with `collect` (its rows counted), retried once on a schema that changed
    under its reflection (see `inventory.systems`); tell `progress`."""
    progress(system, "running", None)
    try:
        try:
            rows = collect(system)
        except SystemUnavailable as error:
            if not is_schema_error(error.__cause__ or error):
                raise
            rows = collect(system)  # reflected again: the stale reflection was forgotten
    except BaseException:
        progress(system, "failed", None)
        raise
    progress(system, "done", rows)


def _run_in_parallel(
    busy: list[str], progress: SystemProgress, collect: Callable[..., int]
) -> None:
    """Run `collect` for each system in a thread of its own; once one fails, stop the others
    at their next batch, wait for all, and raise the first failure in the map's order."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=len(busy), thread_name_prefix="collect") as pool:
        futures = {
            system: pool.submit(_run_system, system, progress, partial(collect, stop=stop))
            for system in busy
        }
        wait(futures.values(), return_when=FIRST_EXCEPTION)
        if any(f.done() and f.exception() is not None for f in futures.values()):
            stop.set()
        wait(futures.values())
    errors = [f.exception() for f in futures.values()]
    first = next((e for e in errors if e is not None and not isinstance(e, _Stopped)), None)
    if first is not None:
        raise first


class _RowWriter:
    """Writes a system's rows of each category, as JSON lines, counting them per table."""

    def __init__(self, data_map: DataMap, systems: Systems, location: SubjectLocation) -> None:
        self.data_map, self.systems, self.location = data_map, systems, location
        self.counts: dict[tuple[str, str, str], int] = {}

    def write_files(self, directory: Path, parts: list[_Part], system: str) -> int:
        """Write the parts (all of one system) straight into their categories' files."""
        rows = 0
        with self.systems.pinned():
            self._read_ahead(parts, system)
            for category_id, same in groupby(parts, key=lambda part: part.category_id):
                path = directory / f"{category_id}.jsonl"
                with os.fdopen(_open_private(path), "w", encoding="utf-8") as out:
                    rows += sum(self._write(out, part, None) for part in same)
        return rows

    def write_parts(
        self,
        directory: Path,
        parts: dict[str, list[_Part]],
        system: str,
        stop: threading.Event,
    ) -> int:
        """Write each part of `system` to a file of its own, joined in order afterwards."""
        rows = 0
        with self.systems.pinned():
            self._read_ahead(parts[system], system)
            for part in parts[system]:
                path = _part_path(directory, part)
                with os.fdopen(_open_private(path), "w", encoding="utf-8") as out:
                    rows += self._write(out, part, stop)
        return rows

    def _memo(self, key: tuple[str, ...], build: Callable[[], _T]) -> _T:
        """What `build` makes from the map alone, made once per map (`Systems.memo_for`)."""
        return self.systems.memo_for(self.data_map, ("collection", *key), build)

    def _hidden(self, category_id: str) -> dict[str, set[str]]:
        category = self.data_map.categories[category_id]
        return self._memo(("hidden", category_id), partial(_hidden, category))

    def _third_party(self, category_id: str, name: str) -> set[str]:
        """The `third_party` fields of the category in table `name` (`system.table`)."""
        category = self.data_map.categories[category_id]
        return self._memo(("third-party", category_id, name), partial(_third_party, category, name))

    def _read_ahead(self, parts: list[_Part], system: str) -> None:
        """Read the small tables of these parts at once (`inventory.locator.read_ahead`)."""
        data_map = self.data_map

        def columns_of(category_id: str, system: str, table: str, columns: list[str]) -> list[str]:
            return _disclosed(self._hidden(category_id), system, table, columns)

        categories = dict.fromkeys(part.category_id for part in parts)
        read_ahead(data_map, self.systems, self.location, system, categories, columns_of)

    def _write(self, out: TextIO, part: _Part, stop: threading.Event | None) -> int:
        data_map = self.data_map
        third_party = self._third_party(part.category_id, f"{part.system}.{part.table}")
        written, read = 0, False
        for table_rows in iter_category_tables(
            data_map,
            self.systems,
            self.location,
            part.category_id,
            columns_of=partial(_disclosed, self._hidden(part.category_id)),
            only=(part.system, part.table),
        ):
            width = len(table_rows.primary_key)
            # Positions (after `owned`) of the values redacted in rows of other people.
            redacted = [1 + width + i for i, c in enumerate(table_rows.columns) if c in third_party]
            others = _other_sides(data_map, self.location, table_rows)
            for batch in table_rows.batches:
                if stop is not None and stop.is_set():
                    raise _Stopped(part.system)
                rows: list[list[Any]]
                if others is None and not table_rows.not_owned:  # every row the subject's own
                    rows = [
                        [True, *[v if type(v) in _PLAIN else encode_value(v) for v in row]]
                        for row in batch
                    ]
                else:
                    rows = []
                    for row in batch:
                        owned = row[:width] not in table_rows.not_owned
                        encoded: list[Any] = [owned]
                        encoded.extend([v if type(v) in _PLAIN else encode_value(v) for v in row])
                        if not owned:
                            for i in redacted:
                                encoded[i] = None
                        elif others is not None:
                            for i in others(row[:width]):
                                encoded[1 + width + i] = {_REDACTED_TAG: 1}
                        rows.append(encoded)
                record = {
                    "system": table_rows.system,
                    "table": table_rows.table,
                    "primary_key": table_rows.primary_key,
                    "columns": table_rows.columns,
                    "rows": rows,
                }
                out.write(_ENCODER.encode(record))
                out.write("\n")
                written += len(rows)
                read = True
        if read:
            self.counts[(part.category_id, part.system, part.table)] = written
        return written


def _other_sides(
    data_map: DataMap, location: SubjectLocation, table_rows: Any
) -> Callable[[tuple[Any, ...]], list[int]] | None:
    """For a table of shared rows (the map's `sides`), return what gives the positions among
    `table_rows.columns` of the other people's columns in a row, given its key; else None."""
    spec = data_map.systems[table_rows.system].tables[table_rows.table]
    match = location.match(table_rows.system, table_rows.table)
    if not spec.sides or match is None:
        return None
    of_side = spec.side_columns()
    columns = list(table_rows.columns)

    def positions(key: tuple[Any, ...]) -> list[int]:
        mine = set().union(*(of_side[s] for s in match.sides.get(key, ())))
        theirs = set().union(*of_side.values()) - mine
        return [i for i, c in enumerate(columns) if c in theirs]

    return positions


def _part_path(directory: Path, part: _Part) -> Path:
    return directory / f"{part.category_id}.{part.index}.part"


def _join_parts(directory: Path, categories: list[str], parts: list[_Part]) -> None:
    """Write each category's file from its parts, in the order of the category's tables."""
    by_category: dict[str, list[_Part]] = {}
    for part in parts:
        by_category.setdefault(part.category_id, []).append(part)
    for category_id in categories:
        path = directory / f"{category_id}.jsonl"
        with os.fdopen(_open_private(path), "wb") as out:
            for part in sorted(by_category[category_id], key=lambda p: p.index):
                piece = _part_path(directory, part)
                with piece.open("rb") as source:
                    shutil.copyfileobj(source, out)
                piece.unlink()


def _third_party(category: Category, name: str) -> set[str]:
    """The fields of `category` in table `name` (`system.table`) the map marks `third_party`."""
    return {
        f.name
        for f in category.fields
        if f.third_party and f"{f.system or category.system}.{f.table}" == name
    }


def _hidden(category: Category) -> dict[str, set[str]]:
    """The fields of `category` the map marks `disclose: false`, per `system.table`."""
    hidden: dict[str, set[str]] = {}
    for f in category.fields:
        if not f.disclose:
            hidden.setdefault(f"{f.system or category.system}.{f.table}", set()).add(f.name)
    return hidden


def _disclosed(
    hidden: dict[str, set[str]], system: str, table: str, columns: list[str]
) -> list[str]:
    """Leave out the columns the map marks `disclose: false`: they are not even read."""
    never = hidden.get(f"{system}.{table}", set())
    return [c for c in columns if c not in never]


def _types_of(data_map: DataMap, systems: Systems, category_id: str) -> dict[str, str]:
    """Return `_field_types`, worked out once per map and reflection."""
    build = partial(_field_types, data_map, systems, category_id)
    return dict(systems.memo_for(data_map, ("field-types", category_id), build))


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
        "labels": collection.labels,
    }
    partial = collection.directory / f"{MANIFEST}.partial"
    with os.fdopen(_open_private(partial), "w", encoding="utf-8") as out:
        out.write(_indented(manifest))
    partial.replace(collection.directory / MANIFEST)


_SCALAR = json.JSONEncoder(ensure_ascii=False)
_text = encode_basestring  # a key that is not text is refused (TypeError)


def _indented(value: Any, margin: str = "\n") -> str:
    """Return what `json.dumps(value, ensure_ascii=False, indent=1)` does, for dicts with text
    keys, lists and scalars: with an indent, `json` encodes in Python, a generator step and a
    write per token (most of a typical manifest's cost); here each text is encoded in C."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = margin + " "
        items = [inner + _text(key) + ": " + _indented(v, inner) for key, v in value.items()]
        return "{" + ",".join(items) + margin + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = margin + " "
        return "[" + ",".join([inner + _indented(v, inner) for v in value]) + margin + "]"
    if isinstance(value, str):
        return _text(value)
    if type(value) is int:
        return int.__repr__(value)
    return _SCALAR.encode(value)


__all__ = [
    "Collection",
    "CollectedRow",
    "CollectionMissing",
    "RowBatch",
    "collect_subject",
    "decode_value",
    "encode_value",
]
