"""Retention sweeps of the map's systems, with the warning owed to inactive account holders.

`run_retention` first warns the owners of accounts about to expire (an email through the outbox and
a `RetentionWarning` row, in the same store transaction), then sweeps every category
(`inventory.retention`) except the rows under a legal hold (`dsr.holds.sweeps`), and records one
audit event per category with its counts. An account row is swept only once its owner was warned
at least RETENTION_WARNING_DAYS before, and has not logged in since: a login moves the account's
date past the warning, so the row is no longer expired and the next expiry needs a new warning.
`plan_retention_now` is the same work, counted, changing nothing: what `run_retention` then does
at the same instant.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Engine

from dsr.audit.models import record_action
from dsr.config import DEFAULTS
from dsr.datamap import desk_map, open_systems
from dsr.dates import written_date
from dsr.db import table_of, transaction
from dsr.disclosures.service import forget_old_disclosures, record_before_sweep
from dsr.execution.targets import secret_key
from dsr.holds.sweeps import counted_as_held, held_rows, with_hold_gates
from dsr.languages import Language
from dsr.outbox.emails import render_email
from dsr.outbox.service import enqueue
from dsr.requests.workflow import Actor
from dsr.retention.models import RetentionWarning
from dsr.suppression.service import suppression_key
from inventory.keyed import Key
from inventory.model import DataMap, ErasureAction
from inventory.retention import (
    Gate,
    RetentionPlan,
    as_utc,
    iter_expiring,
    plan_retention,
    sweep_category,
    warning_email_column,
)
from inventory.systems import Systems

log = logging.getLogger(__name__)

AUDIT_ACTION = "retention_sweep"
_KEY_CHUNK = 500


@dataclass(frozen=True)
class CategoryResult:
    """What the sweep of one category did: counts only."""

    system: str
    category: str
    action: ErasureAction
    rows: int
    followers: Mapping[str, int]
    held: int
    legal_hold: int
    referenced: int
    no_date: int
    warnings_sent: int
    not_swept: tuple[str, ...]

    def details(self) -> dict[str, object]:
        """The audit details: names from the map and counts, never values."""
        return {
            "system": self.system,
            "category": self.category,
            "action": self.action.value,
            "rows": self.rows,
            "followers": dict(self.followers),
            "held_until_warned": self.held,
            "held_for_legal_claim": self.legal_hold,
            "kept_still_referenced": self.referenced,
            "no_date_not_swept": self.no_date,
            "warnings_sent": self.warnings_sent,
            "tables_not_swept": list(self.not_swept),
        }


@dataclass(frozen=True)
class RetentionReport:
    at: datetime
    warnings_sent: int
    categories: list[CategoryResult] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(c.rows + sum(c.followers.values()) for c in self.categories)


def retention_settings(settings: Mapping[str, Any]) -> tuple[int, int, Language]:
    """Return (warning days, batch size, language of the warnings) from the settings."""
    merged = {**DEFAULTS, **settings}
    days = int(merged["RETENTION_WARNING_DAYS"])
    batch = int(merged["RETENTION_BATCH_SIZE"])
    if days < 0 or batch < 1:
        raise ValueError("RETENTION_WARNING_DAYS must be >= 0 and RETENTION_BATCH_SIZE >= 1")
    return days, batch, Language(str(merged["RETENTION_WARNING_LANGUAGE"]))


def plan_retention_now(
    *, engine: Engine, settings: Mapping[str, Any], now: datetime
) -> RetentionPlan:
    """Return what `run_retention` would sweep at `now` (the dry run), changing nothing."""
    days, _, _ = retention_settings(settings)
    data_map = desk_map(settings)
    systems = open_systems(settings, data_map).recheck_schema()
    held = held_rows(engine, data_map, systems, now)
    gates = with_hold_gates(_gates(engine, data_map, now, days), held)
    return counted_as_held(plan_retention(data_map, systems, now, gates=gates), gates)


def run_retention(
    *,
    engine: Engine,
    settings: Mapping[str, Any],
    now: datetime,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    as_of: datetime | None = None,
) -> RetentionReport:
    """Warn, then sweep every category in batches; audit one event per category.

    Each batch commits on its own: after an interruption, running again finishes the work (swept
    rows no longer match). `progress` is told the rows each batch changed. `as_of` (by default
    `now`) is the instant whose expiries are swept: that of an approved dry run, so that rows
    expired since wait for the next report.
    """
    cutoff = now if as_of is None else as_of
    days, default_batch, language = retention_settings(settings)
    size = batch_size or default_batch
    data_map = desk_map(settings)
    key = secret_key(settings)
    systems = open_systems(settings, data_map).recheck_schema()
    held = held_rows(engine, data_map, systems, now)
    warned = send_warnings(
        engine=engine,
        data_map=data_map,
        systems=systems,
        now=now,
        warning_days=days,
        language=language,
        held=held,
    )
    gates = with_hold_gates(_gates(engine, data_map, now, days), held)
    plan = counted_as_held(plan_retention(data_map, systems, cutoff, gates=gates), gates)
    # Who was sent what must outlive the rows sent (Art. 19): recorded before they go.
    record_before_sweep(engine, data_map, systems, key=suppression_key(settings), now=now)
    results = []
    swept_accounts: dict[tuple[str, str], list[Key]] = {}
    for sweep in plan.sweeps:
        outcome = sweep_category(
            data_map,
            systems,
            sweep.category,
            cutoff,
            secret_key=key,
            batch_size=size,
            gate=gates.get(sweep.category),
            gated=gates.keys(),
            on_batch=progress,
        )
        if sweep.category in gates:
            swept_accounts[(sweep.system, sweep.table)] = outcome.swept_keys
        result = CategoryResult(
            system=sweep.system,
            category=sweep.category,
            action=sweep.action,
            rows=outcome.rows,
            followers=dict(outcome.followers),
            held=sweep.held,
            legal_hold=sweep.legal_hold,
            referenced=sweep.referenced,
            no_date=sweep.no_date,
            warnings_sent=warned.get(sweep.category, 0),
            not_swept=sweep.not_swept,
        )
        with transaction(engine) as session:
            record_action(
                db_session=session,
                actor=Actor.SYSTEM,
                action=AUDIT_ACTION,
                at=now,
                details=result.details(),
            )
        log.info(
            "retention of %s.%s: %s %d rows",
            sweep.system,
            sweep.category,
            sweep.action.value,
            outcome.total,
        )
        results.append(result)
    for (system, table_name), keys in swept_accounts.items():
        _forget_warnings(engine, system, table_name, keys)
    forget_old_disclosures(engine, data_map, now=now)
    return RetentionReport(at=now, warnings_sent=sum(warned.values()), categories=results)


# --- warnings ---------------------------------------------------------------------------------


def send_warnings(
    *,
    engine: Engine,
    data_map: DataMap,
    systems: Systems,
    now: datetime,
    warning_days: int,
    language: Language,
    held: Mapping[str, set[str]] | None = None,
) -> dict[str, int]:
    """Warn the owners of account rows that expire within `warning_days` and were not warned
    since their date; return the warnings sent per category (the first of each table). Rows
    `held` for a legal claim (row keys per category) will not expire: no warning says so."""
    sent: dict[str, int] = {}
    done_tables: set[tuple[str, str]] = set()
    deadline = now + timedelta(days=warning_days)
    for category_id, category in data_map.categories.items():
        column = warning_email_column(data_map, category_id)
        if column is None:
            continue
        table_name = category.retention.from_.split(".", 1)[0]
        if (category.system, table_name) in done_tables:
            continue
        done_tables.add((category.system, table_name))
        zone = data_map.system_zone(category.system)
        count = 0
        for batch in iter_expiring(data_map, systems, category_id, deadline, [column]):
            with transaction(engine) as session:
                warnings = _warnings(session.connection(), category.system, table_name, batch)
                for key, date_value, values in batch:
                    if _row_key(key) in (held or {}).get(category_id, ()):
                        continue
                    address = values[column]
                    previous = warnings.get(_row_key(key))
                    if not address or (
                        previous is not None and previous >= as_utc(date_value, zone)
                    ):
                        continue
                    _warn(
                        session,
                        data_map,
                        address=str(address),
                        language=language,
                        now=now,
                        deadline=deadline,
                        dedup=f"retention:{category.system}:{table_name}:{_row_key(key)}:"
                        f"{as_utc(date_value).isoformat()}",
                    )
                    _remember(session, category.system, table_name, key, previous, now)
                    count += 1
        sent[category_id] = count
    return sent


def _warn(
    session: Any,
    data_map: DataMap,
    *,
    address: str,
    language: Language,
    now: datetime,
    deadline: datetime,
    dedup: str,
) -> None:
    email = render_email(
        "retention_warning",
        language,
        organisation=data_map.organisation.name,
        deadline=written_date(deadline, language, data_map.organisation.zone),
    )
    enqueue(
        db_session=session,
        to=address,
        email=email,
        language=language,
        dedup_key=dedup,
        now=now,
    )


def _row_key(key: Key) -> str:
    return json.dumps(list(key), default=str, separators=(",", ":"))


def _warnings(
    conn: Any, system: str, table_name: str, rows: Sequence[tuple[Key, Any, Any]]
) -> dict[str, datetime]:
    """Return row key -> time of the last warning, for the given rows."""
    table = table_of(RetentionWarning)
    found: dict[str, datetime] = {}
    keys = [_row_key(r[0]) for r in rows]
    for start in range(0, len(keys), _KEY_CHUNK):
        stmt = select(table.c.row_key, table.c.warned_at).where(
            table.c.system == system,
            table.c.table_name == table_name,
            table.c.row_key.in_(keys[start : start + _KEY_CHUNK]),
        )
        for row_key, warned_at in conn.execute(stmt):
            found[row_key] = warned_at
    return found


def _remember(
    session: Any,
    system: str,
    table_name: str,
    key: Key,
    previous: datetime | None,
    now: datetime,
) -> None:
    table = table_of(RetentionWarning)
    row_key = _row_key(key)
    if previous is None:
        session.add(
            RetentionWarning(system=system, table_name=table_name, row_key=row_key, warned_at=now)
        )
        return
    session.execute(
        table.update()
        .where(
            table.c.system == system,
            table.c.table_name == table_name,
            table.c.row_key == row_key,
        )
        .values(warned_at=now)
    )


def _gates(engine: Engine, data_map: DataMap, now: datetime, warning_days: int) -> dict[str, Gate]:
    """Return, per warned category, the gate letting through rows warned long enough ago."""
    due = now - timedelta(days=warning_days)
    gates: dict[str, Gate] = {}
    for category_id, category in data_map.categories.items():
        if warning_email_column(data_map, category_id) is None:
            continue
        table_name = category.retention.from_.split(".", 1)[0]
        zone = data_map.system_zone(category.system)

        def gate(
            rows: Sequence[tuple[Key, Any]],
            system: str = category.system,
            name: str = table_name,
            zone: tzinfo = zone,
        ) -> list[Key]:
            with engine.connect() as conn:
                warned = _warnings(conn, system, name, [(k, d, None) for k, d in rows])
            allowed = []
            for key, date_value in rows:
                at = warned.get(_row_key(key))
                if at is not None and as_utc(date_value, zone) <= at <= due:
                    allowed.append(key)
            return allowed

        gates[category_id] = gate
    return gates


def _forget_warnings(engine: Engine, system: str, table_name: str, keys: list[Key]) -> None:
    """Delete the warnings of swept account rows: they have served (minimisation)."""
    table = table_of(RetentionWarning)
    row_keys = [_row_key(k) for k in keys]
    for start in range(0, len(row_keys), _KEY_CHUNK):
        with engine.begin() as conn:
            conn.execute(
                delete(table).where(
                    and_(
                        table.c.system == system,
                        table.c.table_name == table_name,
                        table.c.row_key.in_(row_keys[start : start + _KEY_CHUNK]),
                    )
                )
            )
