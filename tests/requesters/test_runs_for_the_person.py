"""Runs of requests made for someone else (R45) or with another identity of the person, on the
seeded demo platform with the store on SQLite and PostgreSQL: the locator is given the person's
address (not the representative's) and their other identities; the report says for whom it was
made, and the answer goes to the representative's verified address."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.delivery import service as delivery
from dsr.delivery.models import DeliveryMethod, ReportKind
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.runner import run_request
from dsr.outbox.models import OutboxMessage
from dsr.requests.identities import RequestIdentity
from dsr.requests.models import DataRequest, ProofCheck, RequesterRole
from dsr.requests.workflow import Status
from tests.dashboard.conftest import NOW
from tests.execution.conftest import run_settings
from tests.factories import make_request

pytestmark = pytest.mark.databases("sqlite", "postgresql")

REPRESENTATIVE = "maitre.durand@avocats.example"


def report_text(store: Engine, request_id: int) -> str:
    with db.open_session(store) as session:
        report = delivery.report_of(session, request_id, ReportKind.PDF)
        assert report is not None
        data = Path(report.path).read_bytes()
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_representatives_request_finds_the_person_and_answers_the_representative(
    store: Engine,
    platform_url: str,
    tmp_path: Path,
) -> None:
    with db.transaction(store) as session:
        made = make_request(
            session,
            status=Status.APPROVED,
            email=REPRESENTATIVE,
            requester_role=RequesterRole.REPRESENTATIVE,
            subject_email=SAMPLE_LEARNER_EMAIL,
            subject_name="Zoé Lefèvre",
            proof_check=ProofCheck.ACCEPTED,
            proof_checked_at=NOW,
        )
        request_id = made.id
    assert request_id is not None
    settings = run_settings(tmp_path / "reports", platform_url)

    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    text = report_text(store, request_id)
    assert "zoe.lefevre" in text  # the person's account (her username), found by her address
    assert "Zoé Lefèvre" in text and "at the request of their representative" in text
    assert REPRESENTATIVE in text  # the verified address the answer goes to

    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        delivery.send_reports(
            db_session=session,
            request=request,
            staff_label="dpo@example.org",
            method=DeliveryMethod.LINK,
            now=NOW,
            delivery_days=7,
            download_url=lambda token: f"https://desk.example/download/{token}",
        )
    with db.open_session(store) as session:
        sent = session.exec(
            select(OutboxMessage.to_address).where(OutboxMessage.request_id == request_id)
        ).all()
    assert sent and set(sent) == {REPRESENTATIVE}


def test_a_second_identity_brings_the_other_accounts_data_into_the_report(
    store: Engine,
    platform_url: str,
    tmp_path: Path,
) -> None:
    with db.transaction(store) as session:
        made = make_request(session, status=Status.APPROVED, email=SAMPLE_LEARNER_EMAIL)
        assert made.id is not None
        request_id = made.id
        session.add(
            RequestIdentity(
                request_id=request_id,
                identity="email",
                value="lefevre.zoe@gmail.example",
                proof="Wrote from both addresses",
                added_at=NOW,
                added_by="dpo@example.org",
            )
        )
    settings = run_settings(tmp_path / "reports", platform_url)

    run_request(engine=store, request_id=request_id, settings=settings, now=NOW)

    text = report_text(store, request_id)
    assert "zoe.lefevre" in text and "zlefevre" in text  # both accounts' usernames
