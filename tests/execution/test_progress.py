"""A run's progress per system, as the request page shows it: one row per system, written in
one statement per report (an upsert on the three engines), in a transaction of its own or in the
caller's; an end keeps the time the system started running, a new run starts it again. And an
erasure's outcome per system, stored with its report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from dsr import db
from dsr.execution.change_records import ErasureSystemRun, SystemRunStatus
from dsr.execution.erasure import _store_run, system_runs
from dsr.execution.runs import ProgressState, record_progress, run_progress
from dsr.requests.workflow import RequestType, Status
from tests.factories import make_request

T0 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def progress(store: Engine, request_id: int) -> dict[str, tuple[str, int | None, object, object]]:
    with db.open_session(store) as session:
        return {
            system: (row.state.value, row.rows, row.started_at, row.finished_at)
            for system, row in run_progress(session, request_id).items()
        }


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_each_report_leaves_one_row_per_system_as_it_stands(store: Engine) -> None:
    request = make_request(store, status=Status.PROCESSING, request_type=RequestType.ERASURE)
    assert request.id is not None
    later, last = T0 + timedelta(seconds=3), T0 + timedelta(seconds=9)
    record_progress(store, request.id, "crm", ProgressState.RUNNING, None, now=T0)
    record_progress(store, request.id, "crm", ProgressState.DONE, 12, now=later)
    with store.begin() as connection:  # in the caller's transaction, with what it stores
        record_progress(
            connection,
            request.id,
            "shop",
            ProgressState.FAILED,
            None,
            reason="the   database\nfailed",
            now=later,
        )
    assert progress(store, request.id) == {
        "crm": ("done", 12, T0, later),  # it started when it was reported running
        "shop": ("failed", None, later, later),  # never reported running: it started then
    }
    with db.open_session(store) as session:
        assert run_progress(session, request.id)["shop"].reason == "the database failed"

    record_progress(store, request.id, "shop", ProgressState.RUNNING, None, now=last)  # a retry
    assert progress(store, request.id)["shop"] == ("running", None, last, None)


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_an_outcome_stored_meanwhile_stays_as_it_was(store: Engine) -> None:
    """A system's outcome is added without looking when the run found none at its start; if a
    worker that took the run over stored it meanwhile, that one (done) is kept and returned."""

    request = make_request(store, status=Status.PROCESSING, request_type=RequestType.ERASURE)
    assert request.id is not None
    with db.transaction(store) as session:
        session.add(
            ErasureSystemRun(
                request_id=request.id,
                system="crm",
                status=SystemRunStatus.DONE,
                rows_deleted=7,
                steps="[]",
                updated_at=T0,
            )
        )
    reported: list[str] = []
    kept = _store_run(
        store,
        request.id,
        system="crm",
        status=SystemRunStatus.FAILED,
        steps="[]",
        counts=(0, 0, 0),
        error="lost",
        now=T0 + timedelta(minutes=1),
        report=lambda connection: reported.append("crm"),
        first=True,
    )
    assert (kept.status, kept.rows_deleted) == (SystemRunStatus.DONE, 7)
    assert reported == ["crm"]
    fresh = _store_run(
        store,
        request.id,
        system="shop",
        status=SystemRunStatus.DONE,
        steps="[]",
        counts=(3, 1, 0),
        error=None,
        now=T0,
        report=lambda connection: reported.append("shop"),
        first=True,
    )
    assert (fresh.status, fresh.rows_deleted, fresh.rows_anonymized) == (SystemRunStatus.DONE, 3, 1)
    with db.open_session(store) as session:
        runs = system_runs(session, request.id)
    stored = {run.system: (run.status, run.rows_deleted) for run in runs}
    assert stored == {"crm": (SystemRunStatus.DONE, 7), "shop": (SystemRunStatus.DONE, 3)}
    assert reported == ["crm", "shop"]
