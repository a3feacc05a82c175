"""What the workers find again in the store (dsr.worker.recovery) and how one of them, only, takes
over a run (dsr.execution.runs): a request processing whose lease ran out, an approved request
left without a run past the grace period, an approved retention sweep whose job was lost;
nothing whose lease still runs or that was approved a moment ago. On every engine: the leases
are compared by the database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dsr import db
from dsr.audit.models import record_action
from dsr.execution.runs import (
    LeaseKeeper,
    ProgressState,
    RequestRun,
    hold_fresh_run,
    record_progress,
    release_run,
    run_progress,
    take_over_run,
)
from dsr.requests.workflow import Action, Actor, Status
from dsr.retention.models import RetentionSweep, SweepStatus, SweepTrigger
from dsr.worker.recovery import runs_to_recover, sweeps_to_recover
from tests.factories import make_request
from tests.waiting import wait_until

pytestmark = pytest.mark.databases("sqlite", "postgresql", "mariadb")

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


def approved_at(store: Engine, at: datetime) -> int:
    with db.transaction(store) as session:
        request = make_request(session, status=Status.APPROVED)
        record_action(
            db_session=session,
            request=request,
            actor=Actor.STAFF,
            actor_label="dpo@example.org",
            action=Action.APPROVE,
            at=at,
        )
        assert request.id is not None
        return request.id


def processing_until(store: Engine, lease_until: datetime) -> int:
    with db.transaction(store) as session:
        request = make_request(session, status=Status.PROCESSING)
        assert request.id is not None
        hold_fresh_run(session, request.id, claim="a-worker", until=lease_until, now=NOW)
        return request.id


def test_the_runs_to_recover_are_the_lost_ones_and_the_forgotten_ones(store: Engine) -> None:
    forgotten = approved_at(store, NOW - timedelta(minutes=10))
    approved_a_moment_ago = approved_at(store, NOW - timedelta(minutes=1))
    lost = processing_until(store, NOW - timedelta(seconds=1))
    running = processing_until(store, NOW + timedelta(seconds=30))

    with db.open_session(store) as session:
        found = runs_to_recover(session, now=NOW, grace=GRACE, approved_too=True)
        without_approved = runs_to_recover(session, now=NOW, grace=GRACE, approved_too=False)

    assert sorted(found) == sorted([forgotten, lost])
    assert approved_a_moment_ago not in found and running not in found
    assert without_approved == [lost]


def sweep(store: Engine, status: SweepStatus, approved: datetime | None) -> int:
    with db.transaction(store) as session:
        row = RetentionSweep(
            planned_at=NOW - timedelta(hours=1),
            trigger=SweepTrigger.NIGHTLY,
            map_digest="0" * 64,
            status=status,
            approved_by="dpo@example.org" if approved else None,
            approved_at=approved,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_an_approved_sweep_whose_job_was_lost_is_queued_again(store: Engine) -> None:
    """Its run claims it once (carry_out): queuing it again is harmless, forgetting it is not."""
    forgotten = sweep(store, SweepStatus.APPROVED, NOW - timedelta(minutes=10))
    sweep(store, SweepStatus.APPROVED, NOW - timedelta(minutes=1))  # its job may still come
    sweep(store, SweepStatus.RUNNING, NOW - timedelta(minutes=10))
    sweep(store, SweepStatus.DONE, NOW - timedelta(minutes=10))
    sweep(store, SweepStatus.WAITING, None)

    with db.open_session(store) as session:
        assert sweeps_to_recover(session, now=NOW, grace=GRACE) == [forgotten]


def test_one_worker_only_takes_over_a_run_and_the_one_that_lost_it_cannot_end_it(
    store: Engine,
) -> None:
    request_id = processing_until(store, NOW - timedelta(seconds=1))
    until = NOW + timedelta(minutes=1)

    with db.transaction(store) as session:
        first = take_over_run(session, request_id, claim="second", until=until, now=NOW)
    with db.transaction(store) as session:
        second = take_over_run(session, request_id, claim="third", until=until, now=NOW)
    with db.transaction(store) as session:
        dead_one_ends = release_run(session, request_id, claim="a-worker")
    with db.transaction(store) as session:
        holder_ends = release_run(session, request_id, claim="second")

    assert (first, second) == (True, False)
    assert (dead_one_ends, holder_ends) == (False, True)
    with db.open_session(store) as session:
        run = session.get(RequestRun, request_id)
        assert run is not None and run.claim is None and run.lease_until is None


def test_a_fresh_run_replaces_the_hold_and_forgets_the_progress_of_the_last(
    store: Engine,
) -> None:
    request_id = processing_until(store, NOW - timedelta(seconds=1))  # the first run's hold
    record_progress(store, request_id, "crm", ProgressState.FAILED, None, reason="x", now=NOW)
    later = NOW + timedelta(minutes=5)
    with db.transaction(store) as session:  # the retry of the failed run
        hold_fresh_run(
            session, request_id, claim="b-worker", until=later + timedelta(minutes=1), now=later
        )
    with db.open_session(store) as session:
        run = session.get(RequestRun, request_id)
        assert run is not None
        assert (run.claim, run.lease_until, run.started_at) == (
            "b-worker",
            later + timedelta(minutes=1),
            later,
        )
        assert run_progress(session, request_id) == {}


def test_a_run_ending_releases_its_lease_without_saying_it_was_lost(
    store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's end releases its lease while the keeper still renews it: a renewal that then
    finds no lease is that release, not a loss; one that finds it gone otherwise still says so."""
    attempts: list[str] = []

    def count_renewals(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE") and "lease_until" in statement:
            attempts.append(statement)

    event.listen(store, "before_cursor_execute", count_renewals)
    try:
        for ending, said in ((True, False), (False, True)):
            request_id = processing_until(store, NOW + timedelta(hours=1))
            caplog.clear()
            with (
                caplog.at_level(logging.WARNING, logger="dsr.execution.runs"),
                LeaseKeeper(store, request_id, claim="a-worker", seconds=0.3) as lease,
            ):
                if ending:
                    lease.ending()
                with db.transaction(store) as session:
                    assert release_run(session, request_id, claim="a-worker")
                released_at = len(attempts)
                wait_until(
                    lambda after=released_at: len(attempts) > after, "a renewal after the release"
                )
            lost = [r for r in caplog.records if "lease was lost" in r.getMessage()]
            assert bool(lost) is said, (ending, [r.getMessage() for r in caplog.records])
    finally:
        event.remove(store, "before_cursor_execute", count_renewals)
