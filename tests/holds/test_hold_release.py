"""The end of a legal hold (R50), with the store on SQLite and PostgreSQL: once its last day has
passed (or staff lifted it), the scheduled job erases what the erasure kept for it, audited, and
deletes the hold with the address it kept; when the systems cannot be changed safely a task asks
staff to do it and the job's run says so; a hold on a request that was not erased just ends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.execution.runner import run_request
from dsr.holds.models import LegalHold
from dsr.holds.release import release_ended_holds
from dsr.holds.service import RELEASED_ACTION, lift_hold
from dsr.requests.models import DataRequest, Task, TaskKind
from dsr.requests.workflow import Status
from dsr.scheduler.jobs import run_job
from dsr.scheduler.runs import SchedulerSettings
from tests.dashboard.conftest import NOW
from tests.execution.conftest import CLOSED_PORT_URL, PLATFORM_VARIABLE, run_settings
from tests.execution.platform_copy import copy_platform, snapshot, subject_keys
from tests.holds.test_held_erasure import ENDS, held_request

pytestmark = pytest.mark.databases("sqlite", "postgresql")

AFTER_THE_END = NOW.replace(year=ENDS.year, month=ENDS.month, day=ENDS.day) + timedelta(days=1)


def erased_under_hold(
    store: Engine, platform: str, tmp_path: Path
) -> tuple[int, dict[str, object]]:
    request = held_request(store, ["exam_registration", "support"])
    assert request.id is not None
    settings = run_settings(tmp_path / "reports", platform, SECRET_KEY="a secret for the tests")
    assert run_request(engine=store, request_id=request.id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    return request.id, settings


def released_events(store: Engine) -> list[RequestEvent]:
    with db.open_session(store) as session:
        return list(
            session.exec(select(RequestEvent).where(col(RequestEvent.action) == RELEASED_ACTION))
        )


def test_when_the_hold_ends_the_job_erases_what_it_kept(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    mine = subject_keys(platform)
    request_id, settings = erased_under_hold(store, platform, tmp_path)
    kept = snapshot(platform)
    assert mine["exam_registration"] <= set(kept["exam_registration"])
    scheduler = SchedulerSettings(secret_key="a secret for the tests", run=settings)

    on_the_last_day = run_job("legal_holds", engine=store, settings=scheduler, now=NOW)
    assert on_the_last_day.items_done == 0 and snapshot(platform) == kept

    run = run_job("legal_holds", engine=store, settings=scheduler, now=AFTER_THE_END)

    assert run.items_done == 1 and run.errors == 0
    rows = snapshot(platform)
    assert not mine["exam_registration"] & set(rows["exam_registration"])
    assert not mine["support_participant"] & set(rows["support_participant"])
    assert set(rows["invoice"]) == set(kept["invoice"])  # the map's own retention: untouched
    assert set(rows["learner"]) == set(kept["learner"])
    with db.open_session(store) as session:
        assert session.exec(select(LegalHold)).all() == []  # with the address it kept
        assert session.exec(select(Task).where(Task.kind == TaskKind.MANUAL_CHECK)).all() == []
    [event] = released_events(store)
    assert event.request_id == request_id
    assert event.details["erased"] is True and event.details["rows_deleted"] > 0
    assert event.details["categories"] == ["exam_registration", "support"]
    assert "@" not in json.dumps(event.details)


def test_a_hold_lifted_early_is_released_at_the_next_run(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    mine = subject_keys(platform)
    request_id, settings = erased_under_hold(store, platform, tmp_path)
    with db.transaction(store) as session:
        [hold] = session.exec(select(LegalHold)).all()
        lift_hold(
            db_session=session,
            request=session.get(DataRequest, request_id),  # type: ignore[arg-type]
            hold_id=hold.id,
            reason="The claim was settled",
            staff_label="dpo@example.org",
            now=NOW,
        )

    report = release_ended_holds(engine=store, settings=settings, now=NOW + timedelta(hours=1))

    assert report.ended == 1 and report.erased == 1 and report.tasks == []
    assert not mine["exam_registration"] & set(snapshot(platform)["exam_registration"])
    [event] = released_events(store)
    assert event.details["lifted_early"] is True


def test_when_the_data_cannot_be_erased_safely_staff_get_a_task(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    request_id, settings = erased_under_hold(store, platform, tmp_path)
    down = {**settings, "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: CLOSED_PORT_URL}}
    scheduler = SchedulerSettings(secret_key="a secret for the tests", run=down)

    run = run_job("legal_holds", engine=store, settings=scheduler, now=AFTER_THE_END)

    assert run.items_done == 1 and run.error_summary == "LeftToStaff x1"
    with db.open_session(store) as session:
        [task] = session.exec(select(Task).where(Task.kind == TaskKind.MANUAL_CHECK)).all()
        assert session.exec(select(LegalHold)).all() == []
    assert task.request_id == request_id and task.title == "Erase the data a legal hold kept"
    assert task.details is not None and "exam_registration" in task.details
    assert '"exam_registration"' in task.details  # the keys staff need to find the rows
    [event] = released_events(store)
    assert event.details["erased"] is False and event.details["task_id"] == task.id


def test_a_hold_on_a_request_that_was_not_erased_just_ends(store: Engine) -> None:
    held_request(store, ["support"], status=Status.IN_REVIEW)

    report = release_ended_holds(engine=store, settings={}, now=AFTER_THE_END)

    assert report.ended == 1 and report.erased == 0 and report.tasks == []
    with db.open_session(store) as session:
        assert session.exec(select(LegalHold)).all() == []
    [event] = released_events(store)
    assert event.details["erased"] is False and event.details["rows_deleted"] == 0
