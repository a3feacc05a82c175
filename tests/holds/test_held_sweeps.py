"""The retention sweeps under a legal hold (R50), on SQLite and PostgreSQL: the held person's
expired rows of a held category stay, counted apart as held for a legal claim in the plan, the
run and its audit, while everyone else's go; once the hold has ended they are swept. `dsr
retention plan` says how many rows a hold keeps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.datamap import desk_map, open_systems
from dsr.db import utcnow
from dsr.demo.schema import tracking_event
from dsr.demo.seed import REFERENCE_NOW
from dsr.holds.service import place_hold
from dsr.outbox.models import OutboxMessage
from dsr.requests.workflow import RequestType, Status
from dsr.retention.cli import retention_group
from dsr.retention.service import AUDIT_ACTION, plan_retention_now, run_retention
from inventory.loader import load_data_map
from inventory.retention import iter_expiring
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE
from tests.factories import make_request
from tests.retention.conftest import sweep_settings

pytestmark = pytest.mark.databases("sqlite", "postgresql")
NOW = REFERENCE_NOW
CLAIM = "Fraud investigation, complaint filed on 2 March"


def expired_tracking(platform: str, now: datetime) -> dict[int, int]:
    """Return, per learner, their tracking events older than the category's 13 months."""
    engine = create_engine(platform)
    cutoff = now - timedelta(days=13 * 31)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(tracking_event.c.learner_id, func.count())
                .where(
                    tracking_event.c.occurred_at < cutoff,
                    tracking_event.c.learner_id.is_not(None),
                )
                .group_by(tracking_event.c.learner_id)
            ).all()
            return {int(learner): int(count) for learner, count in rows}
    finally:
        engine.dispose()


def email_of(platform: str, learner_id: int) -> str:
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            from dsr.demo.schema import learner

            return str(
                conn.execute(select(learner.c.email).where(learner.c.id == learner_id)).scalar_one()
            )
    finally:
        engine.dispose()


def hold_tracking(
    store: Engine, email: str, *, now: datetime, ends_on: date, category: str = "tracking"
) -> None:
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=email,
            request_type=RequestType.ERASURE,
            received_at=now - timedelta(days=2),
        )
        place_hold(
            db_session=session,
            request=request,
            data_map=load_data_map(DATA_MAP),
            categories=[category],
            reason=CLAIM,
            ends_on=ends_on,
            staff_label="dpo@example.org",
            now=now,
        )


def test_a_held_persons_rows_stay_until_the_hold_ends(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform)
    expired = expired_tracking(platform, NOW)
    held_learner = max(expired, key=expired.__getitem__)
    held = expired[held_learner]
    assert held > 0
    hold_tracking(
        store, email_of(platform, held_learner), now=NOW, ends_on=NOW.date() + timedelta(days=30)
    )

    plan = plan_retention_now(engine=store, settings=settings, now=NOW)
    [sweep] = [s for s in plan.sweeps if s.category == "tracking"]
    assert sweep.legal_hold == held and sweep.held == 0
    report = run_retention(engine=store, settings=settings, now=NOW)

    [result] = [r for r in report.categories if r.category == "tracking"]
    assert result.rows == sweep.rows and result.legal_hold == held
    assert expired_tracking(platform, NOW) == {held_learner: held}  # everyone else's went
    with db.open_session(store) as session:
        events = session.execute(
            select(RequestEvent).where(col(RequestEvent.action) == AUDIT_ACTION)
        ).scalars()
        [event] = [e for e in events if e.details["category"] == "tracking"]
    assert event.details["held_for_legal_claim"] == held

    after_the_end = NOW + timedelta(days=32)
    run_retention(engine=store, settings=settings, now=after_the_end)

    assert expired_tracking(platform, NOW) == {}


def test_no_warning_announces_the_expiry_of_a_held_account(store: Engine, platform: str) -> None:
    settings = sweep_settings(platform)
    data_map = desk_map(settings)
    with open_systems(settings, data_map).opened() as systems:
        [first, *_] = iter_expiring(
            data_map, systems, "contact", NOW + timedelta(days=30), ["email"]
        )
    held_email = str(first[0][2]["email"])
    hold_tracking(
        store, held_email, now=NOW, ends_on=NOW.date() + timedelta(days=90), category="account"
    )

    report = run_retention(engine=store, settings=settings, now=NOW)

    with db.open_session(store) as session:
        sent_to = {m.to_address for m in session.execute(select(OutboxMessage)).scalars()}
    assert report.warnings_sent > 0 and len(sent_to) == report.warnings_sent
    assert held_email not in sent_to


@pytest.mark.databases("sqlite")
def test_the_retention_plan_command_counts_the_held_rows(
    store: Engine, platform: str, engine_url: str
) -> None:
    now = utcnow()
    expired = expired_tracking(platform, now)
    held_learner = max(expired, key=expired.__getitem__)
    hold_tracking(
        store, email_of(platform, held_learner), now=now, ends_on=now.date() + timedelta(days=9)
    )
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_STAFF_LANGUAGE": "en",
    }

    planned = CliRunner().invoke(retention_group, ["plan", "--database-url", engine_url], env=env)

    assert planned.exit_code == 0, planned.output
    assert f"expired, held for a legal claim: {expired[held_learner]} rows kept" in planned.output
    assert "@" not in planned.output
