"""Compare the map's `display`s with the live databases (`dsr map check --live`).

A reference names a table and columns the map does not otherwise list (a course catalogue): that
they exist is only known live, and a missing one is an error (the values would show as stored).
A code list that lacks a code present in the data is a warning: that code shows as stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from babel import Locale
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from inventory.live import LiveFinding, Severity
from inventory.model import CodeDisplay, CodeList, DataMap, Field_, ReferenceDisplay
from inventory.systems import Systems, SystemUnavailable
from inventory.validation import Loc

SHOWN_CODES = 5
"""Codes named in one warning; the others are counted."""
DISTINCT_LIMIT = 1000
"""Distinct values read of one coded column: a code list is short, a longer column is not one."""


def _fields(data_map: DataMap, system: str) -> Iterator[tuple[Loc, str, Field_]]:
    for category_id, category in data_map.categories.items():
        for index, f in enumerate(category.fields):
            if (f.system or category.system) == system and f.display is not None:
                yield ("categories", category_id, "fields", index, "display"), category_id, f


def display_findings(data_map: DataMap, systems: Systems) -> list[LiveFinding]:
    """Report each reference to a table or column the database lacks."""
    findings = []
    for system in data_map.systems:
        wanted = [
            (f, f.display.reference)
            for _, _, f in _fields(data_map, system)
            if isinstance(f.display, ReferenceDisplay)
        ]
        if not wanted:
            continue
        try:
            inspector = inspect(systems.engine(system))
            tables = set(inspector.get_table_names())
            columns = {
                ref.table: {c["name"] for c in inspector.get_columns(ref.table)}
                for _, ref in wanted
                if ref.table in tables
            }
        except SQLAlchemyError:
            continue  # `check_live` says the system cannot be read
        for f, ref in wanted:
            if ref.table not in tables:
                message = f"`{f.column}` is shown by a row of table `{ref.table}`, which the "
                message += "database does not have."
            elif missing := [c for c in (ref.key, ref.label) if c not in columns[ref.table]]:
                message = f"`{f.column}` is shown through column `{ref.table}.{missing[0]}`, "
                message += "which the database does not have."
            else:
                continue
            findings.append(LiveFinding(Severity.ERROR, system, message))
    return findings


@dataclass(frozen=True)
class UncoveredCodes:
    """Codes of a column that its code list does not name: they are shown as stored."""

    system: str
    loc: Loc
    message: str


def _named(code: str | CodeList, value: str) -> bool:
    if isinstance(code, CodeList):
        return value in code.labels or (
            code.prefix and any(value.startswith(k) for k in code.labels)
        )
    names = Locale.parse("en").territories if code == "country" else Locale.parse("en").languages
    return (value.upper() if code == "country" else value.replace("-", "_")) in names


def uncovered_codes(data_map: DataMap, systems: Systems) -> list[UncoveredCodes]:
    """Read the distinct values of each coded column and report those its list does not name."""
    found = []
    for system in data_map.systems:
        coded = [
            (loc, f, f.display.code)
            for loc, _, f in _fields(data_map, system)
            if isinstance(f.display, CodeDisplay)
        ]
        if not coded:
            continue
        try:
            tables = systems.tables(system)
            with systems.connect(system) as conn:
                for loc, f, code in coded:
                    column = tables[f.table].c.get(f.name)
                    if column is None:
                        continue  # `check_live` reports the missing column
                    statement = select(column).distinct().where(column.is_not(None))
                    values = conn.execute(statement.limit(DISTINCT_LIMIT)).scalars().all()
                    missing = sorted({str(v) for v in values if not _named(code, str(v).strip())})
                    if not missing:
                        continue
                    shown = ", ".join(f"`{v}`" for v in missing[:SHOWN_CODES])
                    more = len(missing) - SHOWN_CODES
                    found.append(
                        UncoveredCodes(
                            system,
                            loc,
                            f"`{f.column}` holds codes its list does not name, shown as stored: "
                            f"{shown}{f' and {more} more' if more > 0 else ''}.",
                        )
                    )
        except (SQLAlchemyError, SystemUnavailable):
            continue  # `check_live` says the system cannot be read
    return found


__all__ = ["UncoveredCodes", "display_findings", "uncovered_codes"]
