"""The nightly sweep's gate: its dry run is recorded every time, and it waits for a person's
approval the first time, after a map change, or when it would change too much of a table;
otherwise it runs and records what it did. An approval runs the sweep once, on the report's map
only."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from dsr.db import open_session, transaction
from dsr.demo.schema import tracking_event
from dsr.demo.seed import REFERENCE_NOW
from dsr.retention.approval import (
    ApprovalRefused,
    Refusal,
    approve_sweep,
    carry_out,
    map_digest,
    nightly_sweep,
    record_sweep,
)
from dsr.retention.models import RetentionSweep, SweepStatus, SweepTrigger
from dsr.scheduler.jobs import run_job
from dsr.scheduler.runs import SchedulerSettings
from tests.execution.conftest import DATA_MAP
from tests.retention.conftest import sweep_settings
from tests.retention.test_sweeps import _count

pytestmark = pytest.mark.databases("sqlite", "postgresql")
NOW = REFERENCE_NOW


def _sweeps(store: Engine) -> list[RetentionSweep]:
    with open_session(store) as session:
        return list(
            session.execute(select(RetentionSweep).order_by(col(RetentionSweep.id))).scalars().all()
        )


def _approve(store: Engine, sweep: RetentionSweep, settings: dict[str, Any]) -> None:
    assert sweep.id is not None
    with transaction(store) as session:
        approve_sweep(
            db_session=session,
            sweep_id=sweep.id,
            staff_label="dpo@desk.example",
            now=NOW,
            digest=map_digest(settings),
        )


def test_the_first_sweep_waits_with_its_report_and_changes_nothing(
    store: Engine, platform: str
) -> None:
    settings = sweep_settings(platform)
    before = _count(platform, tracking_event)

    sweep = nightly_sweep(engine=store, settings=settings, now=NOW)

    assert sweep.status is SweepStatus.WAITING
    assert sweep.reasons == ["first_sweep", "large_share"]
    assert _count(platform, tracking_event) == before
    [stored] = _sweeps(store)
    tracking = next(c for c in stored.report["categories"] if c["category"] == "tracking")
    assert tracking["action"] == "delete" and tracking["rows"] > 0
    assert tracking["cutoff"].startswith(str(NOW.year - 1))  # P13M back, as ISO 8601 text
    table = next(t for t in stored.report["tables"] if t["table"] == "tracking_event")
    assert table["rows"] == before and table["changed"] == tracking["rows"] and table["over"]
    assert "@" not in str(stored.report)
    assert stored.outcome is None and stored.approved_by is None


def test_an_approved_sweep_runs_once_then_the_same_map_runs_unattended(
    store: Engine, platform: str
) -> None:
    settings = sweep_settings(platform)
    first = nightly_sweep(engine=store, settings=settings, now=NOW)
    planned = next(c for c in first.report["categories"] if c["category"] == "tracking")["rows"]
    before = _count(platform, tracking_event)
    _approve(store, first, settings)
    with pytest.raises(ApprovalRefused) as twice:
        _approve(store, first, settings)
    assert twice.value.reason is Refusal.NOT_WAITING
    assert first.id is not None

    report = carry_out(engine=store, settings=settings, sweep_id=first.id, now=NOW)
    again = carry_out(engine=store, settings=settings, sweep_id=first.id, now=NOW)

    assert report is not None and again is None
    assert _count(platform, tracking_event) == before - planned
    [done] = _sweeps(store)
    assert done.status is SweepStatus.DONE and done.approved_by == "dpo@desk.example"
    ran = next(o for o in done.outcome or [] if o["category"] == "tracking")
    assert ran["rows"] == planned

    tomorrow = nightly_sweep(engine=store, settings=settings, now=NOW + timedelta(days=1))

    assert tomorrow.status is SweepStatus.DONE, tomorrow.reasons
    assert tomorrow.reasons == [] and tomorrow.outcome is not None


def test_a_sweep_of_a_large_share_of_a_table_waits(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform, RETENTION_APPROVAL_SHARE=0.01)
    console = record_sweep(
        engine=store,
        settings=settings,
        now=NOW - timedelta(days=400),
        trigger=SweepTrigger.CONSOLE,
    )
    assert console.status is SweepStatus.APPROVED and console.approved_by == "console"
    before = _count(platform, tracking_event)

    sweep = nightly_sweep(engine=store, settings=settings, now=NOW)

    assert sweep.status is SweepStatus.WAITING
    assert sweep.reasons == ["large_share"]
    assert _count(platform, tracking_event) == before


def test_a_changed_map_waits_and_an_approval_of_the_old_report_is_refused(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    copy = tmp_path / "data_map.yaml"
    shutil.copyfile(DATA_MAP, copy)
    settings = sweep_settings(platform, data_map=copy, RETENTION_APPROVAL_SHARE=1)
    first = nightly_sweep(engine=store, settings=settings, now=NOW)
    _approve(store, first, settings)
    assert first.id is not None
    carry_out(engine=store, settings=settings, sweep_id=first.id, now=NOW)
    with copy.open("a", encoding="utf-8") as edited:
        edited.write("\n# a change of the map\n")
    before = _count(platform, tracking_event)

    changed = nightly_sweep(engine=store, settings=settings, now=NOW + timedelta(days=1))

    assert changed.status is SweepStatus.WAITING and changed.reasons == ["map_changed"]
    with copy.open("a", encoding="utf-8") as edited:
        edited.write("# and another one\n")
    with pytest.raises(ApprovalRefused) as stale:
        _approve(store, changed, settings)
    assert stale.value.reason is Refusal.MAP_CHANGED
    assert _sweeps(store)[-1].status is SweepStatus.WAITING
    assert _count(platform, tracking_event) == before


def test_the_map_changed_between_approval_and_run_runs_nothing(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    copy = tmp_path / "data_map.yaml"
    shutil.copyfile(DATA_MAP, copy)
    settings = sweep_settings(platform, data_map=copy)
    sweep = nightly_sweep(engine=store, settings=settings, now=NOW)
    _approve(store, sweep, settings)
    copy.write_text(copy.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    before = _count(platform, tracking_event)
    assert sweep.id is not None

    assert carry_out(engine=store, settings=settings, sweep_id=sweep.id, now=NOW) is None

    [failed] = _sweeps(store)
    assert failed.status is SweepStatus.FAILED and failed.error == "map_changed"
    assert _count(platform, tracking_event) == before


def test_a_waiting_report_is_superseded_by_the_next_nights(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform)
    nightly_sweep(engine=store, settings=settings, now=NOW)
    nightly_sweep(engine=store, settings=settings, now=NOW + timedelta(days=1))

    statuses = [sweep.status for sweep in _sweeps(store)]

    assert statuses == [SweepStatus.SUPERSEDED, SweepStatus.WAITING]


def test_the_scheduler_job_records_a_sweep_waiting_for_approval(
    store: Engine, platform: str
) -> None:
    settings = sweep_settings(platform)

    run = run_job(
        "retention",
        engine=store,
        settings=SchedulerSettings(secret_key="s", run=settings),
        now=NOW,
    )

    assert run.error_summary == "WaitingForApproval x1"
    assert [sweep.status for sweep in _sweeps(store)] == [SweepStatus.WAITING]
