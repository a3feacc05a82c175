"""Compare a map with the live schemas of its systems: what is missing, and what is not mapped.

The second half is what makes the inventory trustworthy: a column named like personal data
(`email`, `phone`, `birth_date`...) that no category claims is a gap a DPO must close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, DateTime, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeEngine

from inventory.anonymisation import ErasurePlanError
from inventory.model import DataMap
from inventory.retention_scope import (
    RetentionMapError,
    SweepContext,
    parent_reference,
    sweep_context,
)
from inventory.systems import Systems, SystemUnavailable, short_reason
from inventory.validation import Loc, known_columns

PERSONAL_TOKENS = frozenset(
    {
        "email", "mail", "phone", "mobile", "tel", "telephone", "fax", "name", "firstname",
        "lastname", "surname", "username", "login", "address", "street", "postal", "postcode",
        "zip", "city", "birth", "birthdate", "dob", "age", "gender", "sex", "nationality",
        "ip", "cookie", "device", "agent", "useragent", "passport", "ssn", "insee", "iban",
        "bic", "card", "pan", "password", "token", "latitude", "longitude", "geo", "location",
        "photo", "avatar", "signature", "health", "religion", "comment", "message", "body",
        "note", "notes", "answer", "search", "referrer", "url",
    }
)  # fmt: skip


class Severity(StrEnum):
    ERROR = "error"
    GAP = "gap"


@dataclass(frozen=True)
class LiveFinding:
    severity: Severity
    system: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.value}: [{self.system}] {self.message}"


def looks_personal(column: str) -> bool:
    """Say whether a column's name suggests personal data (split on `_` and camelCase)."""
    words = re.sub(r"([a-z])([A-Z])", r"\1_\2", column).lower()
    tokens = {t for t in re.split(r"[^a-z0-9]+", words) if t}
    return bool(tokens & PERSONAL_TOKENS) or words.replace("_", "") in PERSONAL_TOKENS


def check_live(data_map: DataMap, systems: Systems) -> list[LiveFinding]:
    """Reflect every system and report mapped objects that do not exist and unmapped ones."""
    findings: list[LiveFinding] = []
    for system, spec in data_map.systems.items():
        try:
            inspector = inspect(systems.engine(system))
            actual_tables = set(inspector.get_table_names())
            types = {
                t: {c["name"]: c["type"] for c in inspector.get_columns(t)} for t in actual_tables
            }
            columns = {t: set(found) for t, found in types.items()}
        except SQLAlchemyError as exc:
            findings.append(
                LiveFinding(Severity.ERROR, system, f"cannot be read: {short_reason(exc)}")
            )
            continue
        for table in spec.tables:
            if table not in actual_tables:
                findings.append(
                    LiveFinding(
                        Severity.ERROR,
                        system,
                        f"table `{table}` is in the map but not in the database.",
                    )
                )
                continue
            for column in sorted(known_columns(data_map, system, table) - columns[table]):
                findings.append(
                    LiveFinding(
                        Severity.ERROR,
                        system,
                        f"column `{table}.{column}` is in the map but not in the database.",
                    )
                )
        findings.extend(_retention_starts(data_map, system, types))
        reviewed = set(spec.not_personal)
        for table in sorted(actual_tables):
            if table in reviewed:
                continue
            mapped = {f.name for _, f in data_map.fields_of_table(system, table)}
            if table in spec.tables:  # the column tying each side of a shared row to its person
                mapped |= {side.link for side in spec.tables[table].sides}
            for column in sorted(columns[table] - mapped):
                if not looks_personal(column) or f"{table}.{column}" in reviewed:
                    continue
                where = "" if table in spec.tables else " (a table the map does not list)"
                findings.append(
                    LiveFinding(
                        Severity.GAP,
                        system,
                        f"column `{table}.{column}`{where} looks like personal data but no "
                        "category claims it: add it to a category, or rename it if it is not.",
                    )
                )
    return findings


def _retention_starts(
    data_map: DataMap, system: str, types: dict[str, dict[str, TypeEngine[Any]]]
) -> list[LiveFinding]:
    """Report retention periods that run from a column holding no date: the sweep computes a
    cutoff date and compares it with that column."""
    findings = []
    for category_id, category in data_map.categories.items():
        table, column = category.retention.from_.split(".", 1)
        kind = types.get(table, {}).get(column) if category.system == system else None
        if kind is None or isinstance(kind, Date | DateTime):
            continue  # a missing table or column is reported above
        findings.append(
            LiveFinding(
                Severity.ERROR,
                system,
                f"the retention of category `{category_id}` runs from `{table}.{column}`, which "
                f"holds {kind}, not a date or timestamp: point `retention.from` at a date or "
                "timestamp column.",
            )
        )
    return findings


@dataclass(frozen=True)
class UndatedRows:
    """A category whose rows can have no start (nor a fallback), and how many have none today:
    the sweep never takes them. `loc` is the category's `retention.from` in the map."""

    system: str
    category: str
    rows: int
    loc: Loc
    message: str


def undated_rows(data_map: DataMap, systems: Systems) -> list[UndatedRows]:
    """Report each category whose start can be NULL: its `from` column and every fallback may be
    NULL in the live schema (a fallback of the row's parent too when the reference to it may)."""
    found = []
    for system in data_map.systems:
        categories = [c for c, spec in data_map.categories.items() if spec.system == system]
        if not categories:
            continue
        try:
            with systems.engine(system).connect() as conn:
                ctx = sweep_context(conn, data_map, systems, system, datetime.now(UTC), frozenset())
                for category_id in categories:
                    try:
                        shape = ctx.shape(category_id)
                    except (RetentionMapError, ErasurePlanError, KeyError):
                        continue  # a start that does not fit is reported by `check_live`
                    if not _may_lack_start(ctx, category_id):
                        continue
                    table = ctx.tables[shape.main]
                    rows = conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(shape.start_of(table).is_(None))
                    ).scalar_one()
                    retention = data_map.categories[category_id].retention
                    found.append(
                        UndatedRows(
                            system,
                            category_id,
                            rows,
                            ("categories", category_id, "retention", "from"),
                            f"the retention of category `{category_id}` runs from "
                            f"`{retention.from_}`, which can be NULL, and no fallback is always "
                            f"set: {rows} rows have no start date today and are never swept; "
                            "add a `fallback` (a date column always set, of the same table or of "
                            "the row's parent).",
                        )
                    )
        except (SQLAlchemyError, SystemUnavailable):
            continue  # `check_live` says the system cannot be read
    return found


def _may_lack_start(ctx: SweepContext, category_id: str) -> bool:
    """Say whether a row's start can be NULL: the `from` column and each fallback can."""
    retention = ctx.data_map.categories[category_id].retention
    main = retention.from_.split(".", 1)[0]
    for column_ref in (retention.from_, *retention.fallback):
        table_name, column = column_ref.split(".", 1)
        if table_name == main:
            if not ctx.tables[main].c[column].nullable:
                return False
            continue
        ref = parent_reference(ctx.references, main, table_name)
        if ref is None:
            continue
        tied = not any(ctx.tables[main].c[c].nullable for c in ref.child_columns)
        if tied and not ctx.tables[table_name].c[column].nullable:
            return False
    return True
