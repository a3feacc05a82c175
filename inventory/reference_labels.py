"""The labels of rows a subject's data refers to (a course's title for a course id).

A field whose `display` is a `reference` holds the key of a row of another table of its system.
Once a subject's rows are collected, the keys they hold are read back from the collection and each
referenced table is asked for their labels with one `key IN (...)` statement per `CHUNK` keys (a
single statement for any subject's few courses), never one per row. The labels go into the
collection's manifest, so that the report and the exports, which only read the collection, show
them. A referenced table that cannot be read leaves its values shown as stored (`map check --live`
says why).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, table
from sqlalchemy.exc import SQLAlchemyError

from inventory.keyed import chunks, run_keyed, select_where
from inventory.model import DataMap, Field_, ReferenceDisplay, ReferenceFormat
from inventory.systems import Systems

if TYPE_CHECKING:
    from inventory.collection import Collection

log = logging.getLogger(__name__)

Labels = dict[str, dict[str, str]]
"""Per referenced column (`label_key`), the label of each key found (`raw_key`)."""


def label_key(system: str, reference: ReferenceFormat) -> str:
    """Name the labels of one reference: `system.table.key.label`."""
    return f"{system}.{reference.table}.{reference.key}.{reference.label}"


def raw_key(value: Any) -> str:
    """Return how a referring value is looked up among the labels (JSON keys are text)."""
    return str(value)


@dataclass(frozen=True)
class _Target:
    system: str
    table: str
    key: str


def reference_fields(data_map: DataMap, category_id: str) -> Iterator[tuple[str, Field_]]:
    """Yield (system, field) for each disclosed field of the category shown by a reference."""
    category = data_map.categories[category_id]
    for f in category.fields:
        if f.disclose and isinstance(f.display, ReferenceDisplay):
            yield f.system or category.system, f


def _referring_values(
    data_map: DataMap, collection: Collection
) -> tuple[dict[_Target, set[str]], dict[_Target, dict[str, Any]]]:
    """Return the label columns wanted of each referenced table and the distinct keys found."""
    wanted: dict[_Target, set[str]] = {}
    found: dict[_Target, dict[str, Any]] = {}
    for category_id in collection.categories:
        fields = list(reference_fields(data_map, category_id))
        if not fields:
            continue
        for batch in collection.batches(category_id):
            start = 1 + len(batch.primary_key)
            for system, f in fields:
                if (system, f.table) != (batch.system, batch.table) or f.name not in batch.columns:
                    continue
                assert isinstance(f.display, ReferenceDisplay)  # noqa: S101 (reference_fields)
                ref = f.display.reference
                target = _Target(system, ref.table, ref.key)
                wanted.setdefault(target, set()).add(ref.label)
                values = found.setdefault(target, {})
                position = start + batch.columns.index(f.name)
                for row in batch.rows:
                    value = row[position]
                    if isinstance(value, int | str) and not isinstance(value, bool):
                        values.setdefault(raw_key(value), value)
    return wanted, found


def read_reference_labels(data_map: DataMap, systems: Systems, collection: Collection) -> Labels:
    """Read the label of every row the collected data refers to: one statement per referenced
    table (per `CHUNK` keys), whatever the number of rows and fields referring to it."""
    wanted, found = _referring_values(data_map, collection)
    labels: Labels = {}
    for target, values in found.items():
        if not values:
            continue
        names = sorted(wanted[target])
        try:
            rows = list(_read(systems, target, names, list(values.values())))
        except SQLAlchemyError as exc:
            log.warning(
                "labels of `%s.%s` not read (%s): the values are shown as stored",
                target.system,
                target.table,
                type(exc).__name__,
            )
            continue
        for row in rows:
            for name, label in zip(names, row[1:], strict=True):
                if label is not None:
                    ref = ReferenceFormat(table=target.table, key=target.key, label=name)
                    labels.setdefault(label_key(target.system, ref), {})[raw_key(row[0])] = str(
                        label
                    )
    return labels


def _read(systems: Systems, target: _Target, names: list[str], keys: list[Any]) -> Iterable[Any]:
    referenced = table(target.table, column(target.key), *(column(n) for n in names))
    selected = [referenced.c[target.key], *(referenced.c[n] for n in names)]
    cache_key = ("reference-labels", target.system, target.table, target.key, tuple(names))
    build = partial(select_where, selected)
    with systems.connect(target.system) as conn:
        for chunk in chunks(sorted(keys, key=str)):
            yield from run_keyed(
                conn, systems, cache_key, build, referenced.c[target.key], chunk
            ).fetchall()


__all__ = ["Labels", "label_key", "raw_key", "read_reference_labels", "reference_fields"]
