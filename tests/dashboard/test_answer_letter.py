"""The answer letter of a request answered by post (R44): staff download from the request's
page a PDF in the request's language whose text is the answer the desk would have emailed (a
refusal with its reasons and the right to complain to the CNIL, a change done...), under the
organisation's sender block and addressed to the postal address given; nothing is emailed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from pypdf import PdfReader
from sqlmodel import select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.datamap import desk_map, organisation_zone
from dsr.requests.emails import EmailKind
from dsr.requests.models import DataRequest
from dsr.requests.service import mail_requester
from tests.dashboard.test_channels import ADDRESS, emails, local, logged_in, record, stored
from tests.execution.conftest import qpdf_check
from tests.pages import csrf_token

REASON = "Votre demande <b>répète</b> celle du mois dernier & reste sans objet."


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_refusal_by_post_is_printed_as_a_french_letter(app: Flask, tmp_path: Path) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    assert record(dpo, received_at=local(datetime.now(UTC) - timedelta(days=4), zone))[0] == 303
    [request] = stored(app)
    page_url = f"/dashboard/requests/{request.reference}"
    letter_url = f"{page_url}/answer-letter.pdf"
    assert dpo.get(letter_url).status_code == 404  # nothing decided yet: no letter
    assert "answer-letter.pdf" not in dpo.get(page_url).get_data(as_text=True)

    refused = dpo.post(
        f"{page_url}/deny",
        data={
            "csrf_token": csrf_token(dpo.get(page_url)),
            "version_id": str(request.version_id),
            "reason": REASON,
        },
    )
    assert refused.status_code == 303
    assert emails(app) == []
    assert "answer-letter.pdf" in dpo.get(page_url).get_data(as_text=True)

    answer = dpo.get(letter_url)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Cache-Control"] == "no-store"
    path = tmp_path / "letter.pdf"
    path.write_bytes(answer.data)
    qpdf_check(path)
    text = " ".join(pdf_text(answer.data).split())
    organisation = desk_map(app.config).organisation
    assert organisation.name in text and organisation.dpo.name in text
    assert "12 rue des Lilas" in text and "69003 Lyon" in text
    assert request.reference in text
    assert "Objet" in text and "refusée" in text  # French, as the request
    assert "<b>répète</b>" in text and "& reste sans objet" in text  # printed as typed
    assert "CNIL" in text
    with db.open_session(db.get_engine(app)) as session:
        printed = session.exec(
            select(RequestEvent).where(RequestEvent.action == "answer_letter_printed")
        ).all()
    assert [(e.request_id, e.actor_label) for e in printed] == [(request.id, "dpo@example.org")]
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    assert auditor.get(letter_url).status_code == 403


def test_a_change_done_by_post_is_kept_as_its_english_letter(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    record(
        dpo,
        email="zoe@example.org",
        language="en",
        answer_by_post="y",
        received_at=local(datetime.now(UTC) - timedelta(days=2), zone),
    )
    [request] = stored(app)
    before = len(emails(app))
    with db.transaction(db.get_engine(app)) as session:
        found = session.get(DataRequest, request.id)
        assert found is not None
        mail_requester(
            session,
            found,
            EmailKind.CHANGE_DONE,
            dedup_key="answer",
            now=datetime.now(UTC),
            answers=True,
            description="Your account is deactivated.",
        )
    assert len(emails(app)) == before  # the answer is not emailed

    answer = dpo.get(f"/dashboard/requests/{request.reference}/answer-letter.pdf")
    assert answer.status_code == 200
    text = " ".join(pdf_text(answer.data).split())
    assert "Subject:" in text and "is done" in text
    assert "Your account is deactivated." in text and ADDRESS in text


def test_a_request_answered_by_email_has_no_letter(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    record(
        dpo,
        email="zoe@example.org",
        received_at=local(datetime.now(UTC) - timedelta(days=2), zone),
    )
    [request] = stored(app)
    assert dpo.get(f"/dashboard/requests/{request.reference}/answer-letter.pdf").status_code == 404
