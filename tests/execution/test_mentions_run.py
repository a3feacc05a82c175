"""Mentions in other people's texts in a request's run (issue 20): the access report lists only
those staff confirmed, the erasure replaces the name only in those, and the certificate says so;
undecided texts and a namesake's are left alone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.delivery.models import Report, ReportKind
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.change_records import ErasureCertificate
from dsr.execution.runner import run_request
from dsr.mentions.service import decide
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from inventory.mentions import PossibleMention
from tests.dashboard.conftest import NOW
from tests.execution.conftest import run_settings
from tests.execution.platform_copy import copy_platform
from tests.exports.conftest import pdf_text
from tests.factories import make_request

SECRET = "a-secret-key-for-the-erasure-tests-000"
HEADING = "Mentions of you in other people's texts"


def approved(store: Engine, request_type: RequestType) -> int:
    with db.transaction(store) as session:
        request = make_request(
            session, status=Status.APPROVED, email=SAMPLE_LEARNER_EMAIL, request_type=request_type
        )
        assert request.id is not None
        return request.id


def naming_texts(platform: str) -> dict[str, tuple[int, str]]:
    """The seeded comments of others naming the sample learner: thanks, revision, namesake."""
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, body FROM course_comment WHERE learner_id <> 1 ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    found = {}
    starts = {"Merci": "Merci à zoe", "révise": "Je révise", "manuel": "Le manuel de Zoé"}
    for key, body in rows:
        found |= {word: (key, body) for word, start in starts.items() if body.startswith(start)}
    assert set(found) == {"Merci", "révise", "manuel"}
    return found


def decided(store: Engine, request_id: int, decisions: dict[int, bool]) -> None:
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        for key, is_subject in decisions.items():
            mention = PossibleMention("learner_platform", "course_comment", "body", (key,), "")
            decide(
                db_session=session,
                request=request,
                mention=mention,
                is_subject=is_subject,
                staff_label="dpo@example.org",
                now=NOW,
            )


def report_text(store: Engine, request_id: int) -> str:
    with db.open_session(store) as session:
        report = session.exec(
            select(Report).where(Report.request_id == request_id, Report.kind == ReportKind.PDF)
        ).one()
    return " ".join(pdf_text(Path(report.path).read_bytes()).split())


def test_the_access_report_lists_only_the_confirmed_mentions(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    texts = naming_texts(platform_url)
    settings = run_settings(tmp_path / "reports", platform_url)
    undecided = approved(store, RequestType.ACCESS)
    run_request(engine=store, request_id=undecided, settings=settings, now=NOW)
    assert HEADING not in report_text(store, undecided)

    request_id = approved(store, RequestType.ACCESS)
    thanks, namesake = texts["Merci"], texts["manuel"]
    decided(store, request_id, {thanks[0]: True, namesake[0]: False})

    status = run_request(engine=store, request_id=request_id, settings=settings, now=NOW)

    assert status is Status.READY_TO_SEND
    report = report_text(store, request_id)
    assert HEADING in report
    assert " ".join(thanks[1].split()) in report
    assert "Je révise" not in report and "Le manuel" not in report


def test_the_erasure_replaces_the_name_only_in_the_confirmed_texts(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    texts = naming_texts(platform)
    thanks, revision, namesake = texts["Merci"], texts["révise"], texts["manuel"]
    request_id = approved(store, RequestType.ERASURE)
    decided(store, request_id, {thanks[0]: True, namesake[0]: False})

    settings = run_settings(tmp_path / "reports", platform, SECRET_KEY=SECRET)
    status = run_request(engine=store, request_id=request_id, settings=settings, now=NOW)

    assert status is Status.READY_TO_SEND
    after = dict(naming_texts_by_id(platform))
    assert after[thanks[0]] == thanks[1].replace("zoe LEFÈVRE", "[…]")
    assert after[revision[0]] == revision[1], "undecided: left as it is"
    assert after[namesake[0]] == namesake[1], "not this person: left as it is"
    with db.open_session(store) as session:
        certificate = session.exec(
            select(ErasureCertificate).where(ErasureCertificate.request_id == request_id)
        ).one()
        erased = session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(col(RequestEvent.sequence).desc())
        ).all()
    said = " ".join(pdf_text(Path(certificate.path).read_bytes()).split())
    assert "your name replaced in 1, 0 deleted" in said
    assert any((e.details or {}).get("mentions_redacted") == 1 for e in erased)


def naming_texts_by_id(platform: str) -> list[tuple[int, str]]:
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, body FROM course_comment"))
            return [(key, body) for key, body in rows]
    finally:
        engine.dispose()
