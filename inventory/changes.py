"""Targeted changes on a located subject's own rows: the map's `changes` (deactivation and
reactivation, restriction and its lifting, objection to marketing) and rectification.

Each change sets columns on the subject's own rows only (not those the map's `owner` gives to
someone else), set-based (UPDATE ... WHERE key IN the subject's keys, in chunks), in one
transaction per system: a system changes entirely or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.exc import SQLAlchemyError

from inventory.keyed import Key, chunks, key_in
from inventory.locator import SubjectLocation
from inventory.model import DataMap, Identity, SubjectChange
from inventory.systems import Systems, SystemUnavailable, short_reason


@dataclass
class ChangeOutcome:
    """What a change did: rows changed per `system.table`; for a rectification, the old values
    per `table.column` (distinct, as text)."""

    rows: dict[str, int] = field(default_factory=dict)
    old_values: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def apply_subject_change(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    change: SubjectChange,
    *,
    now: datetime,
) -> ChangeOutcome:
    """Set the change's columns on the subject's own rows, one transaction per system.

    Raise SystemUnavailable (nothing changed in that system) when a system fails.
    """
    by_system: dict[str, dict[str, dict[str, Any]]] = {}
    for column in change.set:
        tables = by_system.setdefault(column.system, {})
        tables.setdefault(column.table, {})[column.name] = now if column.now else column.value
    outcome = ChangeOutcome()
    for system, tables in by_system.items():
        reflected = systems.tables(system)
        with _transaction(systems, system) as conn:
            for table_name, values in tables.items():
                primary_key = data_map.systems[system].tables[table_name].primary_key
                keys = location.owned_keys(system, table_name)
                outcome.rows[f"{system}.{table_name}"] = _update_rows(
                    conn, reflected[table_name], primary_key, keys, values
                )
    return outcome


def rectify_subject(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    values: Mapping[tuple[str, str], str],
) -> ChangeOutcome:
    """Write the approved new values ((system, `table.column`) -> value) on the subject's own
    rows, one transaction per system, reading the old values first in that transaction.

    Raise SystemUnavailable (nothing changed in that system) when a system fails.
    """
    stored_as_compared = normalised_columns(data_map)
    by_system: dict[str, dict[str, dict[str, str]]] = {}
    for (system, column), value in values.items():
        table_name, name = column.split(".", 1)
        identity = stored_as_compared.get((system, column))
        if identity is not None:  # the locator matches it as stored: keep it findable
            value = identity.normalize(value)
        by_system.setdefault(system, {}).setdefault(table_name, {})[name] = value
    outcome = ChangeOutcome()
    for system, tables in by_system.items():
        reflected = systems.tables(system)
        with _transaction(systems, system) as conn:
            for table_name, new_values in tables.items():
                table = reflected[table_name]
                primary_key = data_map.systems[system].tables[table_name].primary_key
                keys = location.owned_keys(system, table_name)
                for name in new_values:
                    old: set[str | None] = set()
                    for chunk in chunks(keys):
                        rows = conn.execute(
                            select(table.c[name]).where(key_in(table, primary_key, chunk))
                        )
                        old.update(None if v is None else str(v) for (v,) in rows)
                    outcome.old_values[f"{table_name}.{name}"] = sorted(
                        old, key=lambda v: (v is None, v or "")
                    )
                outcome.rows[f"{system}.{table_name}"] = _update_rows(
                    conn, table, primary_key, keys, new_values
                )
    return outcome


def normalised_columns(data_map: DataMap) -> dict[tuple[str, str], Identity]:
    """Return the identity of each (system, `table.column`) the map declares `normalised`: a
    value written there must be in the identity's compared form (an email lower-case and
    trimmed), or the locator, which matches such a column as stored, would no longer find it."""
    found: dict[tuple[str, str], Identity] = {}
    for identity in data_map.identities.values():
        for system, locations in identity.locations.items():
            for location in locations:
                if location.normalised:
                    found[(system, location.column)] = identity
    return found


@contextmanager
def _transaction(systems: Systems, system: str) -> Iterator[Connection]:
    """Yield a connection in one transaction on `system`; a database error rolls it back and
    raises SystemUnavailable."""
    try:
        with systems.engine(system).begin() as conn:
            yield conn
    except SQLAlchemyError as error:
        raise SystemUnavailable(system, short_reason(error)) from error


def _update_rows(
    conn: Connection,
    table: Table,
    primary_key: Sequence[str],
    keys: Sequence[Key],
    values: Mapping[str, Any],
) -> int:
    changed = 0
    for chunk in chunks(keys):
        result = conn.execute(
            update(table).where(key_in(table, primary_key, chunk)).values(dict(values))
        )
        changed += max(result.rowcount or 0, 0)
    return changed
