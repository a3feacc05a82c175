"""Who is running a request now, and how far each system of the map got.

A worker takes a request's run under a lease (`RequestRun`): it claims it with a conditional
UPDATE whose row count says whether it won, renews the lease while the executor works, and gives
it back in the transaction that ends the run. A worker that dies leaves a lease that expires, so
another worker (`dsr.worker.recovery`) can take the run over; one that lost its lease cannot end
the run twice. `RunProgress` says per system what the run did, for the request's page (no values,
only the map's names, counts and reasons made for staff).
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Protocol

from sqlalchemy import Executable, bindparam, delete, func, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, select

from dsr import db
from dsr.db import UTCDateTime, string_enum

log = logging.getLogger(__name__)

REASON_MAX = 500


class ProgressState(StrEnum):
    """Where one system of a running request stands (waiting: nothing reported yet)."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ProgressReport(Protocol):
    """`progress(system, state, rows)`: what an executor calls as each system of the map runs
    (state running, done or failed; a failure may say why, for staff: no personal data). Given
    `within`, a connection in a transaction of the store, the report is written in it (with the
    outcome it reports); else in a transaction of its own."""

    def __call__(
        self,
        system: str,
        state: str,
        rows: int | None,
        reason: str | None = None,
        *,
        within: Connection | None = None,
    ) -> None: ...


class RequestRun(SQLModel, table=True):
    """The run of a request in progress: the claim of the worker that holds it and until when."""

    __tablename__ = "dsr_request_run"

    request_id: int = Field(
        foreign_key="dsr_request.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    claim: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    started_at: datetime = Field(sa_type=UTCDateTime)


class RunProgress(SQLModel, table=True):
    """How far the current (or last) run of a request got in one system of the map."""

    __tablename__ = "dsr_run_progress"

    request_id: int = Field(
        foreign_key="dsr_request.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    system: str = Field(max_length=100, primary_key=True)
    state: ProgressState = Field(sa_type=string_enum(ProgressState, "state"))
    rows: int | None = Field(default=None)
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def new_claim() -> str:
    """Return the token of one worker's hold on one run."""
    return secrets.token_hex(16)


def hold_fresh_run(
    db_session: Session, request_id: int, *, claim: str, until: datetime, now: datetime
) -> None:
    """Record `claim` as the holder of a run that starts now (its status change, in the same
    transaction, is what makes it the only one), and forget the last run's progress."""
    forget, hold = _hold_statements(db_session.get_bind().dialect.name)
    db_session.execute(forget, {"p_request_id": request_id})
    values = {
        "p_request_id": request_id,
        "p_claim": claim,
        "p_lease_until": until,
        "p_started_at": now,
    }
    db_session.execute(hold, values)


@cache
def _hold_statements(dialect: str) -> tuple[Executable, Executable]:
    """The last run's progress forgotten, and the run's row added or changed where a previous
    run left it (one upsert: it was an UPDATE, then an INSERT for every request's first run);
    statements built once."""
    progress, runs = db.table_of(RunProgress), db.table_of(RequestRun)
    forget = delete(progress).where(progress.c.request_id == bindparam("p_request_id"))
    values = {
        name: bindparam(f"p_{name}", type_=runs.c[name].type)
        for name in ("claim", "lease_until", "started_at")
    }
    row = {**values, "request_id": bindparam("p_request_id", type_=runs.c.request_id.type)}
    return forget, db.upsert(dialect, runs, row, [runs.c.request_id], values)


def take_over_run(
    db_session: Session, request_id: int, *, claim: str, until: datetime, now: datetime
) -> bool:
    """Take the run of a request left processing by a worker whose lease ran out; say whether
    it is ours (one conditional UPDATE: of two workers trying, one row count is 0)."""
    taken = db_session.execute(
        update(RequestRun)
        .where(
            col(RequestRun.request_id) == request_id,
            col(RequestRun.lease_until).is_not(None),
            col(RequestRun.lease_until) < now,
        )
        .values(claim=claim, lease_until=until, started_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def release_run(db_session: Session, request_id: int, *, claim: str) -> bool:
    """End the hold of `claim` in the transaction that ends the run; False when another worker
    took the run over meanwhile (this one must then record nothing)."""
    released = db_session.execute(
        _release_statement(), {"p_request_id": request_id, "p_claim": claim}
    )
    return bool(released.rowcount == 1)  # type: ignore[attr-defined]


@cache
def _release_statement() -> Executable:
    runs = db.table_of(RequestRun)
    return (
        update(runs)
        .where(runs.c.request_id == bindparam("p_request_id"), runs.c.claim == bindparam("p_claim"))
        .values(claim=None, lease_until=None)
    )


def renew_lease(engine: Engine, request_id: int, *, claim: str, until: datetime) -> bool:
    """Push the lease of `claim` to `until`; False when it is no longer held by `claim`."""
    with db.transaction(engine) as db_session:
        renewed = db_session.execute(
            update(RequestRun)
            .where(col(RequestRun.request_id) == request_id, col(RequestRun.claim) == claim)
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


class LeaseKeeper:
    """Renew a run's lease every third of its length on a thread of its own, while the
    executor works; stop when the run ends or the lease was lost.

    The run's own end releases the lease (`release_run`) while the keeper still renews it (so
    that the lease lasts until that transaction commits): `ending()`, called before it, tells
    the keeper that a renewal finding no lease from then on is that release, not a loss, which
    it says only when it is one."""

    def __init__(self, engine: Engine, request_id: int, *, claim: str, seconds: float) -> None:
        self._engine, self._request_id, self._claim = engine, request_id, claim
        self._seconds = seconds
        self._stopped = threading.Event()
        self._ending = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"dsr-lease-{request_id}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def ending(self) -> None:
        """The run is about to release its lease: renew it until then, without calling its
        release a loss."""
        self._ending.set()

    def _renew(self) -> None:
        while not self._stopped.wait(self._seconds / 3):
            until = db.utcnow() + timedelta(seconds=self._seconds)
            try:
                if not renew_lease(self._engine, self._request_id, claim=self._claim, until=until):
                    if not self._ending.is_set():
                        log.warning("request %s: the run's lease was lost", self._request_id)
                    return
            except SQLAlchemyError as error:  # the store is away: the next turn tries again
                log.warning("request %s: lease not renewed (%s)", self._request_id, type(error))


def progress_recorder(engine: Engine, request_id: int) -> ProgressReport:
    """Return the `progress` callback of a run: each report is its own short transaction."""

    def report(
        system: str,
        state: str,
        rows: int | None,
        reason: str | None = None,
        *,
        within: Connection | None = None,
    ) -> None:
        record_progress(
            within or engine,
            request_id,
            system,
            ProgressState(state),
            rows,
            reason=reason,
            now=db.utcnow(),
        )

    return report


def record_progress(
    store: Engine | Connection,
    request_id: int,
    system: str,
    state: ProgressState,
    rows: int | None,
    *,
    reason: str | None = None,
    now: datetime,
) -> None:
    """Store where `system` stands in the run of `request_id` (a failure keeps its reason), in
    a transaction of its own, or in the transaction of `store` when it is a connection.

    One UPDATE, and an INSERT when the system had no row yet: the report of a system that ends
    was a SELECT and an UPDATE through the ORM."""
    if isinstance(store, Connection):
        _write_progress(store, request_id, system, state, rows, reason=reason, now=now)
        return
    with store.begin() as connection:  # a Core transaction: no session for two statements
        _write_progress(connection, request_id, system, state, rows, reason=reason, now=now)


def _write_progress(
    connection: Connection,
    request_id: int,
    system: str,
    state: ProgressState,
    rows: int | None,
    *,
    reason: str | None,
    now: datetime,
) -> None:
    running = state is ProgressState.RUNNING
    parameters: dict[str, object] = {
        "p_request_id": request_id,
        "p_system": system,
        "p_state": state,
        "p_rows": rows,
        "p_reason": None if reason is None else " ".join(reason.split())[:REASON_MAX],
        "p_finished_at": None if running else now,
        "p_now": now,
    }
    connection.execute(_progress_upsert(connection.dialect.name, running), parameters)


_PROGRESS_VALUES = ("state", "rows", "reason", "finished_at")


@cache
def _progress_upsert(dialect: str, running: bool) -> Executable:
    """The one statement of a report, built once: the row added, or changed where it is. Running
    starts it now; an end keeps the time it started running, if it was reported. The store's
    engines all have an upsert: PostgreSQL and SQLite's ON CONFLICT, MariaDB's ON DUPLICATE KEY."""
    table = db.table_of(RunProgress)
    # (parameters named apart from the columns: SQLAlchemy keeps those names for itself)
    values = {name: bindparam(f"p_{name}", type_=table.c[name].type) for name in _PROGRESS_VALUES}
    now = bindparam("p_now", type_=table.c.started_at.type)
    row = {
        **values,
        "request_id": bindparam("p_request_id", type_=table.c.request_id.type),
        "system": bindparam("p_system", type_=table.c.system.type),
        "started_at": now,
    }
    started = now if running else func.coalesce(table.c.started_at, now)
    keys = [table.c.request_id, table.c.system]
    return db.upsert(dialect, table, row, keys, {**values, "started_at": started})


def run_progress(db_session: Session, request_id: int) -> dict[str, RunProgress]:
    """Return the progress of the request's current (or last) run, by system."""
    rows = db_session.exec(select(RunProgress).where(RunProgress.request_id == request_id))
    return {row.system: row for row in rows}
