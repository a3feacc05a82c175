"""The retention sweeps on SQLite and PostgreSQL: plan equals run, resume after an interruption,
the inactive-account warning and its reprieve, retained categories deleted at the end of their
period, rows without a date swept from their fallback start or counted apart."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from dsr.audit.models import RequestEvent, verify_audit
from dsr.datamap import desk_map, open_systems
from dsr.db import open_session, table_of
from dsr.demo.schema import invoice, invoice_line, learner, support_thread, tracking_event
from dsr.demo.seed import REFERENCE_NOW
from dsr.languages import Language
from dsr.outbox.models import OutboxMessage
from dsr.retention.models import RetentionWarning
from dsr.retention.service import (
    AUDIT_ACTION,
    plan_retention_now,
    run_retention,
    send_warnings,
)
from inventory.anonymisation import PLACEHOLDER_PREFIX
from inventory.model import ErasureAction
from inventory.retention import RetentionPlan
from tests.execution.conftest import DATA_MAP
from tests.retention.conftest import sweep_settings

pytestmark = pytest.mark.databases("sqlite", "postgresql")
NOW = REFERENCE_NOW


def _counts(plan: RetentionPlan) -> dict[str, tuple[int, dict[str, int]]]:
    return {s.category: (s.rows, {f.table: f.rows for f in s.followers}) for s in plan.sweeps}


def _warn_early(store: Engine, settings: dict[str, Any], at: Any) -> int:
    data_map = desk_map(settings)
    with open_systems(settings, data_map).opened() as systems:
        sent = send_warnings(
            engine=store,
            data_map=data_map,
            systems=systems,
            now=at,
            warning_days=30,
            language=Language.FR,
        )
    return sum(sent.values())


def _count(url: str, table: Any, *where: Any) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
            )
    finally:
        engine.dispose()


def test_plan_equals_run(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform)
    assert _warn_early(store, settings, NOW - timedelta(days=31)) > 0
    plan = plan_retention_now(engine=store, settings=settings, now=NOW)
    planned = _counts(plan)
    assert planned["tracking"][0] > 0
    assert planned["contact"][0] > 0 and planned["account"][0] == planned["contact"][0]
    assert planned["support"][1]["support_message"] > 0

    report = run_retention(engine=store, settings=settings, now=NOW)

    done = {r.category: (r.rows, dict(r.followers)) for r in report.categories}
    assert done == planned
    after = _counts(plan_retention_now(engine=store, settings=settings, now=NOW))
    for sweep in plan.sweeps:
        if sweep.action is not ErasureAction.RETAIN:
            assert after[sweep.category][0] == 0, sweep.category
    with open_session(store) as session:
        events = (
            session.execute(select(RequestEvent).where(col(RequestEvent.action) == AUDIT_ACTION))
            .scalars()
            .all()
        )
        assert {e.details["category"] for e in events} == set(planned)
        assert all(e.request_id is None for e in events)
        assert "@" not in json.dumps([e.details for e in events])
        assert verify_audit(db_session=session).ok
        # the warnings of the swept accounts are forgotten
        assert (
            session.execute(
                select(func.count()).select_from(table_of(RetentionWarning))
            ).scalar_one()
            == 0
        )


class Interrupted(Exception):
    pass


def test_interruption_then_resume(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform)
    before = _count(platform, tracking_event)
    planned = _counts(plan_retention_now(engine=store, settings=settings, now=NOW))
    expected_gone = planned["tracking"][0]
    batches = []

    def stop_after_first(changed: int) -> None:
        batches.append(changed)
        raise Interrupted

    with pytest.raises(Interrupted):
        run_retention(engine=store, settings=settings, now=NOW, progress=stop_after_first)
    assert len(batches) == 1 and batches[0] > 0
    middle = _counts(plan_retention_now(engine=store, settings=settings, now=NOW))
    assert sum(c[0] + sum(c[1].values()) for c in middle.values()) < sum(
        c[0] + sum(c[1].values()) for c in planned.values()
    )

    run_retention(engine=store, settings=settings, now=NOW, batch_size=3)

    assert _count(platform, tracking_event) == before - expected_gone
    final = _counts(plan_retention_now(engine=store, settings=settings, now=NOW))
    assert final["tracking"][0] == 0 and final["billing_cards"][0] == 0


def _learners(url: str) -> dict[int, tuple[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(learner.c.id, learner.c.email, learner.c.last_login_at))
            return {r.id: (r.email, r.last_login_at) for r in rows}
    finally:
        engine.dispose()


def test_inactive_account_warning_and_reprieve(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform)
    original = _learners(platform)

    first = run_retention(engine=store, settings=settings, now=NOW)

    assert first.warnings_sent > 0
    contact = next(r for r in first.categories if r.category == "contact")
    assert contact.rows == 0 and contact.held > 0  # warned, not yet swept
    with open_session(store) as session:
        warnings = session.execute(select(RetentionWarning)).scalars().all()
        mails = session.execute(select(OutboxMessage)).scalars().all()
    warned = {json.loads(w.row_key)[0] for w in warnings}
    assert len(warned) == first.warnings_sent == len(mails)
    assert {m.to_address for m in mails} == {original[i][0] for i in warned}
    assert all("connect" in m.text_body for m in mails)
    assert _learners(platform) == original

    spared = min(warned)
    engine = create_engine(platform)
    with engine.begin() as conn:
        conn.execute(
            update(learner)
            .where(learner.c.id == spared)
            .values(last_login_at=NOW + timedelta(days=2))
        )
    engine.dispose()

    later = NOW + timedelta(days=31)
    second = run_retention(engine=store, settings=settings, now=later)

    after = _learners(platform)
    anonymised = {i for i, (email, _) in after.items() if email != original[i][0]}
    assert anonymised == warned - {spared}
    assert after[spared][0] == original[spared][0]
    contact = next(r for r in second.categories if r.category == "contact")
    assert contact.rows == len(warned) - 1
    assert all(after[i][1] is None for i in anonymised)  # the account's date is anonymised too


def test_a_retained_category_ends_in_deletion_at_the_end_of_its_period(
    store: Engine, platform: str
) -> None:
    """Invoices are kept for the law 10 years after the close of their financial year, then
    deleted with their lines (`at_end: delete`): nothing is kept for ever."""
    invoices = _count(platform, invoice)
    lines = _count(platform, invoice_line)
    assert invoices > 0 and lines > 0
    settings = sweep_settings(platform)
    plan = plan_retention_now(engine=store, settings=settings, now=NOW)
    assert next(s for s in plan.sweeps if s.category == "invoices").rows < invoices
    far = NOW + timedelta(days=365 * 11 + 3)  # past the close of the year of the last invoice
    report = run_retention(engine=store, settings=settings, now=far)
    result = next(r for r in report.categories if r.category == "invoices")
    assert result.action is ErasureAction.DELETE
    assert result.rows == invoices and result.followers["invoice_line"] == lines
    assert _count(platform, invoice) == 0 and _count(platform, invoice_line) == 0


def _without_fallback(tmp_path: Path, category: str) -> Path:
    spec = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    del spec["categories"][category]["retention"]["fallback"]
    changed_map = tmp_path / "data_map.yaml"
    changed_map.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return changed_map


def test_rows_without_a_start_are_counted_and_never_swept(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    open_threads = _count(platform, support_thread, support_thread.c.closed_at.is_(None))
    assert open_threads > 0
    far = NOW + timedelta(days=365 * 20)
    settings = sweep_settings(platform, _without_fallback(tmp_path, "support"))
    plan = plan_retention_now(engine=store, settings=settings, now=far)
    support = next(s for s in plan.sweeps if s.category == "support")
    assert support.no_date == open_threads and support.fallback == ()

    run_retention(engine=store, settings=settings, now=far)

    assert _count(platform, support_thread) == open_threads
    assert _count(platform, support_thread, support_thread.c.closed_at.is_not(None)) == 0


def test_a_fallback_start_sweeps_rows_without_a_date(store: Engine, platform: str) -> None:
    """Open support threads run from their opening, accounts never logged in from their creation:
    every row has a start, so every period ends (the accounts after their warning)."""
    never_logged = _count(platform, learner, learner.c.last_login_at.is_(None))
    assert never_logged > 0
    assert _count(platform, support_thread, support_thread.c.closed_at.is_(None)) > 0
    far = NOW + timedelta(days=365 * 20)
    settings = sweep_settings(platform)
    plan = plan_retention_now(engine=store, settings=settings, now=far)
    assert {s.category: s.no_date for s in plan.sweeps if s.no_date} == {}
    contact = next(s for s in plan.sweeps if s.category == "contact")
    assert contact.fallback == ("learner.created_at",)

    first = run_retention(engine=store, settings=settings, now=far)
    assert first.warnings_sent == _count(platform, learner)  # every account, dated or not
    run_retention(engine=store, settings=settings, now=far + timedelta(days=31))

    assert _count(platform, support_thread) == 0
    assert _count(platform, learner, learner.c.email.like(f"{PLACEHOLDER_PREFIX}%")) == _count(
        platform, learner
    )
