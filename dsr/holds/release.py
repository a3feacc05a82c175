"""The end of legal holds (a scheduled job): when a hold's last day has passed, or staff lifted
it, what an erasure kept for it is erased then (the erasure engine, limited to the hold's
categories and to the rows it kept), audited; when that cannot be done safely (a blocking
reference, a system down or failing), a task asks staff to do it and the report says so. Either
way the hold is deleted with the identity it kept. A hold on a request that was not erased ends
without erasing anything: its data is under the map's retention again.

Each hold is released in its own transactions: one that fails does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from dsr import db
from dsr.audit.models import record_action
from dsr.datamap import desk_map, open_systems
from dsr.execution.change_records import ErasureCertificate
from dsr.execution.targets import secret_key
from dsr.holds.models import LegalHold
from dsr.holds.service import RELEASED_ACTION, active_holds, in_force
from dsr.requests.models import DataRequest, Task, TaskKind
from dsr.requests.workflow import Actor, RequestType
from inventory.anonymisation import ErasurePlanError
from inventory.erasure import execute_erasure, plan_erasure
from inventory.holds import kept_with_held, only_categories
from inventory.locator import SubjectLocation, TableMatch
from inventory.model import DataMap
from inventory.systems import SystemUnavailable, short_reason

log = logging.getLogger(__name__)

TASK_TITLE = "Erase the data a legal hold kept"


@dataclass
class ReleaseReport:
    """What the release did: holds ended, of them erased, and those left to staff (task ids)."""

    ended: int = 0
    erased: int = 0
    rows: int = 0
    tasks: list[int] = field(default_factory=list)
    failed: int = 0


def ended_holds(engine: Engine, now: datetime) -> list[LegalHold]:
    """Return the holds lifted, or whose last day is before today on their request's calendar."""
    with db.transaction(engine) as db_session:
        rows = db_session.exec(
            select(LegalHold, DataRequest.time_zone)
            .join(DataRequest, col(DataRequest.id) == col(LegalHold.request_id))
            .order_by(col(LegalHold.id))
        ).all()
        return [hold for hold, zone in rows if not in_force(hold, zone, now)]


def release_ended_holds(
    *, engine: Engine, settings: Mapping[str, Any], now: datetime
) -> ReleaseReport:
    """Release every ended hold; see the module's docstring."""
    report = ReleaseReport()
    holds = ended_holds(engine, now)
    if not holds:
        return report
    for hold in holds:
        try:
            _release(engine, settings, hold, now, report)
        except Exception as error:  # one hold that fails does not stop the others
            log.error("legal hold %s not released: %s", hold.id, type(error).__name__)
            report.failed += 1
    return report


def _release(
    engine: Engine,
    settings: Mapping[str, Any],
    hold: LegalHold,
    now: datetime,
    report: ReleaseReport,
) -> None:
    """Release one ended hold: erase what it kept if its request was erased, audit, delete it."""
    with db.transaction(engine) as db_session:
        request = db_session.get(DataRequest, hold.request_id)
        erased = request is not None and _was_erased(db_session, request)
        still_held = {
            c
            for other in active_holds(db_session, hold.request_id, now)
            if other.id != hold.id
            for c in other.category_ids
        }
    problem: str | None = None
    counts = (0, 0)
    categories: list[str] = []
    if erased:
        data_map, key = desk_map(settings), secret_key(settings)  # a missing one: retried later
        try:
            categories, counts = _erase_kept(data_map, settings, hold, still_held, key, now)
        except (SystemUnavailable, ErasurePlanError, SQLAlchemyError, _Unsafe) as error:
            problem = (
                f"a system of the map failed ({short_reason(error)})"
                if isinstance(error, SQLAlchemyError)
                else str(error)
            )
    with db.transaction(engine) as db_session:
        _finish(db_session, hold, erased, categories, counts, problem, now, report)
    report.ended += 1


class _Unsafe(Exception):
    pass


def _was_erased(db_session: Session, request: DataRequest) -> bool:
    return request.type is RequestType.ERASURE and (
        db_session.exec(
            select(ErasureCertificate.id).where(ErasureCertificate.request_id == request.id)
        ).first()
        is not None
    )


def kept_location(data_map: DataMap, hold: LegalHold, identity: str) -> SubjectLocation:
    """Return where the rows the erasure kept for the hold are, from the keys it stored."""
    location = SubjectLocation(identity=identity)
    for system, tables in hold.kept.items():
        if system not in data_map.systems:
            continue
        for table, keys in tables.items():
            spec = data_map.systems[system].tables.get(table)
            if spec is None or not keys:
                continue
            location.tables[(system, table)] = TableMatch(
                system, table, tuple(spec.primary_key), [tuple(k) for k in keys]
            )
    return location


def _erase_kept(
    data_map: DataMap,
    settings: Mapping[str, Any],
    hold: LegalHold,
    still_held: set[str],
    key: bytes,
    now: datetime,
) -> tuple[list[str], tuple[int, int]]:
    """Erase the rows kept for the hold, as the map erases their categories; return the
    categories and (rows deleted, rows anonymised)."""
    own = [c for c in hold.category_ids if c in data_map.categories and c not in still_held]
    if not own or not hold.kept:
        return own, (0, 0)
    systems = open_systems(settings, data_map).recheck_schema()
    linked = kept_with_held(data_map, systems, own)
    categories = [*own, *(c for c in linked if c not in still_held)]
    limited = only_categories(data_map, categories)
    location = kept_location(limited, hold, identity="kept")
    systems = open_systems(settings, limited).recheck_schema()
    plan = plan_erasure(limited, systems, location)
    if plan.blocked:
        raise _Unsafe("; ".join(plan.blocked))
    outcomes = execute_erasure(limited, systems, location, secret_key=key, now=now)
    failed = [f"{o.system}: {o.error}" for o in outcomes if o.status == "failed"]
    if failed:
        raise _Unsafe("; ".join(failed))
    return categories, (
        sum(o.rows_deleted for o in outcomes),
        sum(o.rows_anonymized for o in outcomes),
    )


def _finish(
    db_session: Session,
    hold: LegalHold,
    erased: bool,
    categories: list[str],
    counts: tuple[int, int],
    problem: str | None,
    now: datetime,
    report: ReleaseReport,
) -> None:
    """Audit the release, open the staff's task if it could not be done, delete the hold."""
    request = db_session.get(DataRequest, hold.request_id)
    details: dict[str, object] = {
        "hold": hold.id,
        "categories": hold.category_ids,
        "erased_categories": categories if problem is None else [],
        "lifted_early": hold.lifted_at is not None,
        "erased": erased and problem is None,
        "rows_deleted": counts[0],
        "rows_anonymized": counts[1],
    }
    if problem is not None:
        task = Task(
            request_id=hold.request_id,
            kind=TaskKind.MANUAL_CHECK,
            title=TASK_TITLE,
            details=(
                "The legal hold on the categories "
                + ", ".join(hold.category_ids)
                + " has ended, but the desk could not erase what the erasure kept for it: "
                + problem
                + ". Erase these rows by hand as the data map says, then close this task."
                + "\nKept rows (system, table, keys): "
                + hold.kept_rows
            ),
            category=hold.category_ids[0],
            created_at=now,
        )
        db_session.add(task)
        db_session.flush()
        details["task_id"] = task.id
        report.tasks.append(int(task.id or 0))
        log.warning("legal hold %s ended; erasing it needs staff: task %s", hold.id, task.id)
    elif erased:
        report.erased += 1
        report.rows += sum(counts)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.SYSTEM,
        action=RELEASED_ACTION,
        at=now,
        details=details,
    )
    stored = db_session.get(LegalHold, hold.id)
    if stored is not None:
        db_session.delete(stored)
    db_session.flush()
