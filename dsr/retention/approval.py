"""Every sweep is recorded, and the nightly one waits for a person where it must.

A sweep starts with its dry run (`plan_retention_now`), stored as a `RetentionSweep` with the
map's digest and, per table, how many rows it would delete or anonymise out of how many. The
nightly sweep then WAITS for a person's approval on the dashboard when it is the first sweep, or
the first since the map changed (its digest differs from the last approved sweep's), or when it
would change more than RETENTION_APPROVAL_SHARE of any table; otherwise it runs at once. A
report still waiting when the next night's is made is superseded by it (the history is kept).

Approving (`approve_sweep`) is a conditional update from waiting, so a second click changes
nothing, and is refused when the map changed since the report. A worker then `carry_out`s it,
claiming it with another conditional update (run once), checking the map again, and sweeping
what had expired at the report's time: rows expired since wait for the next report. `dsr
retention run`, a person at the console, records its sweep too, as approved by the console.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from dsr.audit.models import record_action
from dsr.config import retention_approval_share
from dsr.datamap import desk_map, map_path, open_systems
from dsr.db import table_of, transaction, utcnow
from dsr.requests.workflow import Actor
from dsr.retention.models import RetentionSweep, SweepStatus, SweepTrigger
from dsr.retention.service import RetentionReport, plan_retention_now, run_retention
from inventory.model import ErasureAction
from inventory.retention import RetentionPlan

log = logging.getLogger(__name__)

APPROVED_ACTION = "retention_sweep_approved"
CONSOLE = "console"
"""Who approved a sweep run with `dsr retention run`: the person at the console."""
DESTRUCTIVE = frozenset({ErasureAction.DELETE, ErasureAction.ANONYMIZE})


class WaitReason(StrEnum):
    """Why a nightly sweep waits for a person's approval."""

    FIRST_SWEEP = "first_sweep"
    MAP_CHANGED = "map_changed"
    LARGE_SHARE = "large_share"


class Refusal(StrEnum):
    """Why an approval or a run was refused."""

    NOT_WAITING = "not_waiting"  # approved already, superseded, or run
    MAP_CHANGED = "map_changed"  # the report was made with another map


class ApprovalRefused(Exception):
    """The sweep cannot be approved; `reason` says why (the page says it in words)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


def map_digest(settings: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the data map's file: any change of it makes the next sweep wait."""
    return hashlib.sha256(map_path(settings).read_bytes()).hexdigest()


def _plain(value: Any) -> Any:
    """Return `value` as JSON can hold it: enums by value, dates in ISO 8601, texts by language."""
    if isinstance(value, Mapping):
        return {str(key): _plain(one) for key, one in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(one) for one in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def dry_run_report(
    plan: RetentionPlan, settings: Mapping[str, Any], share: float
) -> dict[str, Any]:
    """Return the plan as stored: every category's sweep as it is (whatever fields it has), and
    per table the rows it would delete or anonymise out of the rows it holds."""
    changed: dict[tuple[str, str], int] = {}
    for sweep in plan.sweeps:
        if sweep.action not in DESTRUCTIVE:
            continue
        changed[(sweep.system, sweep.table)] = changed.get((sweep.system, sweep.table), 0) + (
            sweep.rows
        )
        if sweep.action is ErasureAction.DELETE:  # followers go with their parent
            for follower in sweep.followers:
                key = (sweep.system, follower.table)
                changed[key] = changed.get(key, 0) + follower.rows
    systems = open_systems(settings, desk_map(settings))
    tables = []
    for (system, name), rows in sorted(changed.items()):
        with systems.engine(system).connect() as conn:
            held = conn.execute(select(func.count()).select_from(systems.tables(system)[name]))
            total = int(held.scalar_one())
        fraction = rows / total if total else 0.0
        tables.append(
            {
                "system": system,
                "table": name,
                "rows": total,
                "changed": rows,
                "share": fraction,
                "over": fraction > share,
            }
        )
    return {
        "share_allowed": share,
        "categories": [_plain(asdict(sweep)) for sweep in plan.sweeps],
        "tables": tables,
    }


def _last_approved(session: Session) -> RetentionSweep | None:
    return session.execute(
        select(RetentionSweep)
        .where(col(RetentionSweep.approved_by).is_not(None))
        .order_by(col(RetentionSweep.approved_at).desc(), col(RetentionSweep.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def wait_reasons(session: Session, digest: str, report: Mapping[str, Any]) -> list[WaitReason]:
    """Return why a nightly sweep with this map and report must wait (none: it runs)."""
    reasons = []
    last = _last_approved(session)
    if last is None:
        reasons.append(WaitReason.FIRST_SWEEP)
    elif last.map_digest != digest:
        reasons.append(WaitReason.MAP_CHANGED)
    if any(table["over"] for table in report["tables"]):
        reasons.append(WaitReason.LARGE_SHARE)
    return reasons


def record_sweep(
    *,
    engine: Engine,
    settings: Mapping[str, Any],
    now: datetime,
    trigger: SweepTrigger,
    plan: RetentionPlan | None = None,
) -> RetentionSweep:
    """Make (or take) the dry run at `now` and record it: waiting for approval when a nightly
    sweep must (`wait_reasons`), approved otherwise (by the console for `dsr retention run`).
    A report still waiting is superseded by this one."""
    digest = map_digest(settings)
    share = retention_approval_share(settings)
    if plan is None:
        plan = plan_retention_now(engine=engine, settings=settings, now=now)
    report = dry_run_report(plan, settings, share)
    with transaction(engine) as session:
        reasons = wait_reasons(session, digest, report) if trigger is SweepTrigger.NIGHTLY else []
        table = table_of(RetentionSweep)
        session.execute(
            update(table)
            .where(table.c.status == SweepStatus.WAITING.value)
            .values(status=SweepStatus.SUPERSEDED.value)
        )
        by_console = trigger is SweepTrigger.CONSOLE
        sweep = RetentionSweep(
            planned_at=now,
            trigger=trigger,
            map_digest=digest,
            status=SweepStatus.WAITING if reasons else SweepStatus.APPROVED,
            reasons=[reason.value for reason in reasons],
            report=report,
            approved_by=CONSOLE if by_console else None,
            approved_at=now if by_console else None,
        )
        session.add(sweep)
    log.info("retention sweep %s recorded: %s", sweep.id, sweep.status.value)
    return sweep


def nightly_sweep(*, engine: Engine, settings: Mapping[str, Any], now: datetime) -> RetentionSweep:
    """Record tonight's dry run, then run it unless it waits for a person; return the sweep."""
    sweep = record_sweep(engine=engine, settings=settings, now=now, trigger=SweepTrigger.NIGHTLY)
    if sweep.status is not SweepStatus.APPROVED or sweep.id is None:
        return sweep
    carry_out(engine=engine, settings=settings, sweep_id=sweep.id, now=now)
    with transaction(engine) as session:
        done = session.get(RetentionSweep, sweep.id)
    return sweep if done is None else done


def approve_sweep(
    *, db_session: Session, sweep_id: int, staff_label: str, now: datetime, digest: str
) -> None:
    """Approve the waiting sweep `sweep_id` for a worker to run and audit who did (the caller
    commits, then queues the run); raise ApprovalRefused when it no longer waits or when the map
    (whose digest is `digest`) changed since its report."""
    sweep = db_session.get(RetentionSweep, sweep_id)
    if sweep is None or sweep.status is not SweepStatus.WAITING:
        raise ApprovalRefused(Refusal.NOT_WAITING)
    if sweep.map_digest != digest:
        raise ApprovalRefused(Refusal.MAP_CHANGED)
    table = table_of(RetentionSweep)
    approved = db_session.execute(  # a second click, or another staff member, finds it approved
        update(table)
        .where(table.c.id == sweep_id, table.c.status == SweepStatus.WAITING.value)
        .values(status=SweepStatus.APPROVED.value, approved_by=staff_label, approved_at=now)
    )
    if approved.rowcount != 1:  # type: ignore[attr-defined]
        raise ApprovalRefused(Refusal.NOT_WAITING)
    db_session.expire(sweep)
    record_action(
        db_session=db_session,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=APPROVED_ACTION,
        at=now,
        details={"sweep": sweep_id, "planned_at": sweep.planned_at.isoformat()},
    )


def carry_out(
    *,
    engine: Engine,
    settings: Mapping[str, Any],
    sweep_id: int,
    now: datetime,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RetentionReport | None:
    """Run the approved sweep `sweep_id` once (the first caller claims it) and record its
    outcome; None when it was not to run here (claimed already) or the map changed since its
    report (recorded as failed). A sweep that raises is recorded as failed, then re-raised."""
    table = table_of(RetentionSweep)
    with transaction(engine) as session:
        claimed = session.execute(
            update(table)
            .where(table.c.id == sweep_id, table.c.status == SweepStatus.APPROVED.value)
            .values(status=SweepStatus.RUNNING.value, started_at=now)
        )
        sweep = session.get(RetentionSweep, sweep_id)
    if claimed.rowcount != 1 or sweep is None:  # type: ignore[attr-defined]
        log.info("retention sweep %s was not run: not approved, or run already", sweep_id)
        return None
    if map_digest(settings) != sweep.map_digest:
        _finish(engine, sweep_id, SweepStatus.FAILED, error=Refusal.MAP_CHANGED.value)
        return None
    try:
        report = run_retention(
            engine=engine,
            settings=settings,
            now=now,
            as_of=sweep.planned_at,
            batch_size=batch_size,
            progress=progress,
        )
    except BaseException as error:
        _finish(engine, sweep_id, SweepStatus.FAILED, error=type(error).__name__)
        raise
    outcome = [result.details() for result in report.categories]
    _finish(engine, sweep_id, SweepStatus.DONE, outcome=outcome)
    return report


def _finish(
    engine: Engine,
    sweep_id: int,
    status: SweepStatus,
    *,
    error: str | None = None,
    outcome: list[dict[str, Any]] | None = None,
) -> None:
    table = table_of(RetentionSweep)
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.id == sweep_id)
            .values(status=status.value, finished_at=utcnow(), error=error, outcome=outcome)
        )


def waiting_sweep_id(session: Session) -> int | None:
    """Return the id of the sweep waiting for approval, if any (there is at most one): all the
    notice of the queue and the tasks needs, read on every page without loading its report."""
    return session.execute(
        select(col(RetentionSweep.id))
        .where(col(RetentionSweep.status) == SweepStatus.WAITING)
        .order_by(col(RetentionSweep.id).desc())
        .limit(1)
    ).scalar_one_or_none()
