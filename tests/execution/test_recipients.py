"""Recipients really told (Art. 19, R25, R49): a restriction and its lifting open the recipients'
tasks; the CCI, which receives the learner's name and email with each exam registration sent, is
told of an erasure even after the registration itself was swept, thanks to the desk's record of
disclosures, which keeps only a keyed hash of the address and is forgotten after its period."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.disclosures.models import Disclosure
from dsr.execution import changes
from dsr.execution.runner import run_request
from dsr.requests.models import DataRequest, Task
from dsr.requests.workflow import RequestType, Status
from dsr.retention.service import run_retention
from dsr.suppression.service import address_digest
from tests.dashboard.conftest import NOW
from tests.execution.conftest import run_settings
from tests.execution.platform_copy import copy_platform
from tests.factories import make_request

SECRET = "a secret for the recipients tests only"
STAFF = "dpo@point3.example"
ZOE_DIGEST = address_digest(SAMPLE_LEARNER_EMAIL, SECRET.encode())


def settings_for(tmp_path: Path, platform: str) -> dict[str, Any]:
    return run_settings(tmp_path / "reports", platform, SECRET_KEY=SECRET)


def approved(store: Engine, request_type: RequestType) -> int:
    with db.transaction(store) as session:
        request = make_request(
            session, status=Status.APPROVED, email=SAMPLE_LEARNER_EMAIL, request_type=request_type
        )
        assert request.id is not None
        return request.id


def tasks_of(store: Engine, request_id: int) -> list[Task]:
    with db.open_session(store) as session:
        return list(session.exec(select(Task).where(Task.request_id == request_id)).all())


def registrations(platform: str) -> int:
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM exam_registration r JOIN learner l "
                        "ON l.id = r.learner_id WHERE lower(l.email) = :email"
                    ),
                    {"email": SAMPLE_LEARNER_EMAIL},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_restriction_and_its_lifting_tell_the_recipients(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    settings = settings_for(tmp_path, platform)
    request_id = approved(store, RequestType.RESTRICTION)
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    restricted = tasks_of(store, request_id)
    assert {"hosting", "email_provider", "cci_paris_idf"} <= {t.recipient for t in restricted}
    cci = next(t for t in restricted if t.recipient == "cci_paris_idf")
    assert cci.details is not None and "limité" in cci.details
    assert SAMPLE_LEARNER_EMAIL not in cci.details  # the message names the reference only
    assert cci.subject_identity == SAMPLE_LEARNER_EMAIL  # for staff, to find the person
    assert cci.due_at is not None

    later = NOW + timedelta(days=30)
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        changes.announce_restriction_lift(
            db_session=session,
            request=request,
            settings=settings,
            staff_label=STAFF,
            reason="Your data is verified.",
            now=later,
        )
        changes.lift_restriction(
            db_session=session, request=request, settings=settings, staff_label=STAFF, now=later
        )
    lifted = [t for t in tasks_of(store, request_id) if t.id not in {r.id for r in restricted}]
    assert {t.recipient for t in lifted} == {t.recipient for t in restricted}
    assert all("levée" in (t.details or "") for t in lifted)


def test_an_erasure_after_the_registration_was_swept_still_tells_the_cci(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    settings = settings_for(tmp_path, platform)
    assert registrations(platform) == 1  # sent to the CCI, its session long past
    run_retention(engine=store, settings=settings, now=NOW)
    assert registrations(platform) == 0  # swept: one year after the session

    with db.open_session(store) as session:
        [recorded] = session.exec(
            select(Disclosure).where(Disclosure.subject_digest == ZOE_DIGEST)
        ).all()
        kept = [d.subject_digest for d in session.exec(select(Disclosure)).all()]
    assert recorded.recipient == "cci_paris_idf" and recorded.category == "exam_registration"
    assert all(len(digest) == 64 and "@" not in digest for digest in kept)  # keyed hashes only

    request_id = approved(store, RequestType.ERASURE)
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    told = {t.recipient: t for t in tasks_of(store, request_id)}
    assert "cci_paris_idf" in told
    assert told["cci_paris_idf"].category is None  # exam registrations and contact details


def test_the_record_of_disclosures_is_forgotten_after_its_period(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    settings = settings_for(tmp_path, platform)
    run_retention(engine=store, settings=settings, now=NOW)
    with db.open_session(store) as session:
        zoe = session.exec(select(Disclosure).where(Disclosure.subject_digest == ZOE_DIGEST)).one()
    later = zoe.sent_at + timedelta(days=3 * 366)
    run_retention(engine=store, settings=settings, now=later)
    with db.open_session(store) as session:
        left = session.exec(select(Disclosure)).all()
    assert ZOE_DIGEST not in {d.subject_digest for d in left}
    assert all(d.sent_at >= later - timedelta(days=3 * 366) for d in left)
