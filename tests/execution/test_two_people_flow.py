"""Erasure requests of people who share rows or are named in others' rows, end to end (issue 20):
the certificate of a gift's recipient lists the mention anonymised in the buyer's gift, and
`dsr subject find` then finds nothing; the certificate of a referrer says their side was
anonymised and the row kept for the referee."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import select as select_model

from dsr import db
from dsr.cli import main
from dsr.demo import schema as demo_schema
from dsr.execution.change_records import ErasureCertificate
from dsr.execution.cli_plan import request_plan_command
from dsr.execution.runner import run_request
from dsr.requests.workflow import RequestType, Status
from tests.conftest import MakeApp
from tests.dashboard.conftest import NOW
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, run_settings
from tests.execution.platform_copy import copy_platform
from tests.exports.conftest import pdf_text
from tests.factories import make_request

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "a secret for the erasure tests only"
FRIEND = "gift.friend@example.net"


def with_shared_rows(platform_url: str, tmp_path: Path) -> tuple[str, str]:
    """Copy the platform, add learner 4's gift to FRIEND and learner 2's referral of learner 3;
    return the copy's URL and learner 2's email."""
    platform = copy_platform(platform_url, tmp_path)
    engine = create_engine(platform)
    try:
        with engine.begin() as conn:
            learner = demo_schema.learner
            referrer = conn.execute(select(learner.c.email).where(learner.c.id == 2)).scalar_one()
            conn.execute(
                insert(demo_schema.course_gift).values(
                    id=9001,
                    buyer_learner_id=4,
                    course_id=1,
                    recipient_email=FRIEND,
                    recipient_name="Camille Petit",
                    offered_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
                )
            )
            conn.execute(
                insert(demo_schema.learner_referral).values(
                    id=9001,
                    referrer_id=2,
                    referee_id=3,
                    invited_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
                    referrer_reward_cents=2000,
                    referee_discount_cents=1000,
                )
            )
    finally:
        engine.dispose()
    return platform, referrer


def erased_certificate(store: Engine, tmp_path: Path, platform: str, email: str) -> str:
    request = make_request(
        store, status=Status.APPROVED, email=email, request_type=RequestType.ERASURE
    )
    assert request.id is not None
    settings = run_settings(tmp_path / "reports", platform, SECRET_KEY=SECRET)
    status = run_request(engine=store, request_id=request.id, settings=settings, now=NOW)
    assert status is Status.READY_TO_SEND
    with db.open_session(store) as session:
        certificate = session.exec(
            select_model(ErasureCertificate).where(ErasureCertificate.request_id == request.id)
        ).one()
    return " ".join(pdf_text(Path(certificate.path).read_bytes()).split())


def find(platform: str, email: str) -> str:
    result = CliRunner().invoke(
        main,
        ["--map", str(DATA_MAP), "subject", "find", email],
        env={PLATFORM_VARIABLE: platform},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_gift_recipients_erasure_is_certified_and_leaves_nothing_to_find(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform, _ = with_shared_rows(platform_url, tmp_path)
    before = find(platform, FRIEND)
    assert "Mentioned in 1 row(s) of other people" in before
    assert "learner_platform.course_gift.recipient_email (course_gifts): 1 row(s)" in before

    said = erased_certificate(store, tmp_path, platform, FRIEND)

    assert "Mentions of you in other people's records" in said
    assert (
        "Gift recipient's email, Gift recipient's name: blanked or anonymised in 1 record of "
        "“Courses offered” "
        "belonging to another person" in said
    )
    after = find(platform, FRIEND)
    assert "Mentioned in" not in after
    assert "No data found for this email in any system of the map." in after


def test_the_referrers_certificate_says_their_side_went_and_the_row_stays(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform, referrer = with_shared_rows(platform_url, tmp_path)
    said = erased_certificate(store, tmp_path, platform, referrer)
    assert "Records shared with another person" in said
    assert "Referrals 1 Your side anonymised, record kept for the other person" in said
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            table = demo_schema.learner_referral
            row = conn.execute(select(table).where(table.c.id == 9001)).one()
    finally:
        engine.dispose()
    assert row.referrer_id is None and row.referrer_reward_cents is None
    assert row.referee_id == 3 and row.referee_discount_cents == 1000


def test_the_plan_shows_the_mention_and_the_shared_side_before_approval(
    engine_url: str, platform_url: str, tmp_path: Path
) -> None:
    platform, referrer = with_shared_rows(platform_url, tmp_path)
    db.run_migrations(engine_url)
    store = db.make_engine(engine_url)
    references = {}
    for email in (FRIEND, referrer):
        with db.transaction(store) as session:
            request = make_request(
                session, status=Status.IN_REVIEW, email=email, request_type=RequestType.ERASURE
            )
            references[email] = request.reference
    store.dispose()

    def plan_of(email: str) -> str:
        result = CliRunner().invoke(
            request_plan_command,
            [references[email], "--database-url", engine_url],
            env={PLATFORM_VARIABLE: platform, "DSR_STAFF_LANGUAGE": "en"},
        )
        assert result.exit_code == 0, result.output
        return result.output

    friend = plan_of(FRIEND)
    assert "course_gift (Courses offered): 1 row, anonymise" in friend
    assert "recipient_email -> unique placeholder" in friend
    assert "recipient_name -> NULL" in friend
    assert "rows belonging to others that name this person" in friend
    referral = plan_of(referrer)
    assert "learner_referral (Referrals): 1 row, anonymise" in referral
    assert "referrer_id -> NULL" in referral
    assert "their side only: row kept for the other person" in referral


def test_the_dashboard_plan_tells_staff_of_the_mention_and_the_shared_side(
    make_app: MakeApp, migrated_url: str, platform_url: str, tmp_path: Path
) -> None:
    from dsr.accounts.models import StaffRole
    from tests.dashboard.conftest import logged_in

    platform, referrer = with_shared_rows(platform_url, tmp_path)
    app = make_app(
        DATABASE_URL=migrated_url,
        SECRET_KEY=SECRET,
        SESSION_COOKIE_SECURE=False,
        DATA_MAP=str(DATA_MAP),
        SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: platform},
        REPORTS_DIR=str(tmp_path / "reports"),
    )
    store = db.get_engine(app)
    references = {}
    for email in (FRIEND, referrer):
        with db.transaction(store) as session:
            request = make_request(
                session, status=Status.IN_REVIEW, email=email, request_type=RequestType.ERASURE
            )
            references[email] = request.reference
    dpo = logged_in(app, "dpo@example.org", StaffRole.DPO)
    friend = dpo.get(f"/dashboard/requests/{references[FRIEND]}").get_data(as_text=True)
    # the desk's staff pages are in French by default
    assert "qui nomment cette personne : seules ces colonnes changent." in friend
    assert "<code>recipient_email</code> → espace réservé unique" in friend
    referral = dpo.get(f"/dashboard/requests/{references[referrer]}").get_data(as_text=True)
    assert "Sa partie anonymisée, ligne conservée pour" in referral
    assert "<code>referrer_id</code> → NULL" in referral
