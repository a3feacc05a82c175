"""Review and delivery through the web: approving runs the request; staff (and auditors) open the
report before it is sent, only working staff send it; the email goes to the verified address
only; the download page wants the one-time code from a second email, throttles wrong codes,
counts downloads, answers 410 once expired or exhausted; an encrypted PDF opens with the
password shown once, and not without it."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import update
from sqlmodel import select
from werkzeug.test import TestResponse

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.delivery.models import DownloadLink, Report, ReportKind
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.languages import Language
from dsr.requests.workflow import RequestType, Status
from tests.dashboard.conftest import logged_in
from tests.delivery.conftest import (
    CompleteRequest,
    approve,
    ask_code,
    download_path,
    give_code,
    requester,
    send,
    stored,
)
from tests.execution.conftest import CLOSED_PORT_URL, PLATFORM_VARIABLE, qpdf_check
from tests.factories import make_request
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer


def fetch(client: FlaskClient, path: str) -> TestResponse:
    """GET `path`, read the body and close the response (file responses hold the file open)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def report_rows(app: Flask, request_id: int) -> dict[ReportKind, Report]:
    with db.open_session(db.get_engine(app)) as session:
        rows = session.exec(select(Report).where(Report.request_id == request_id)).all()
        return {row.kind: row for row in rows}


def test_staff_and_auditors_open_the_report_before_it_is_sent(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    page = dpo.get(f"/dashboard/requests/{done.reference}").get_data(as_text=True)
    preview = f"/dashboard/requests/{done.reference}/reports/pdf"
    assert preview in page
    opened = fetch(dpo, preview)
    assert opened.status_code == 200
    assert opened.mimetype == "application/pdf"
    assert opened.headers["Cache-Control"] == "no-store"
    assert opened.data.startswith(b"%PDF")
    assert smtp_server.messages == []  # nothing went to the requester yet

    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    assert fetch(auditor, preview).status_code == 200
    refused = auditor.post(
        f"/dashboard/requests/{done.reference}/reports/send",
        data={"csrf_token": csrf_token(auditor.get(preview.rsplit("/", 2)[0])), "method": "link"},
    )
    assert refused.status_code == 403
    assert smtp_server.messages == []
    assert FlaskClient(app).get(preview).status_code == 302  # anonymous: to the login page


def test_the_link_goes_to_the_verified_address_and_the_code_opens_the_files(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request(RequestType.PORTABILITY)
    shown = send(dpo, done.reference)
    assert "sent the link" in shown

    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_recipients == (SAMPLE_LEARNER_EMAIL,)
    assert "Your request" in mail.message["Subject"]
    path = download_path(smtp_server, 1)
    assert done.reference not in path and "@" not in path

    browser = requester(app)
    page = browser.get(path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert f"{path}/files/pdf" not in page.get_data(as_text=True)
    assert browser.get(f"{path}/files/pdf").status_code == 303  # no code yet: back to the page

    code = ask_code(browser, path, smtp_server)
    assert smtp_server.messages[-1].envelope_recipients == (SAMPLE_LEARNER_EMAIL,)
    status, _ = give_code(browser, path, code)
    assert status == 303
    listing = browser.get(path).get_data(as_text=True)
    assert f"{path}/files/pdf" in listing and f"{path}/files/zip" in listing

    pdf = fetch(browser, f"{path}/files/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert pdf.headers["Cache-Control"] == "no-store"
    rows = report_rows(app, done.request_id)
    assert pdf.data == Path(rows[ReportKind.PDF].path).read_bytes()
    assert rows[ReportKind.PDF].downloads_left == 2
    assert fetch(browser, f"{path}/files/zip").status_code == 200

    another = requester(app)
    assert another.get(f"{path}/files/pdf").status_code == 303  # the code opened one browser
    status, text = give_code(another, path, code)  # and works once
    assert status == 400 and "already used" in text


def test_downloads_are_limited_then_the_link_answers_410(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    send(dpo, done.reference)
    path = download_path(smtp_server, 1)
    browser = requester(app)
    give_code(browser, path, ask_code(browser, path, smtp_server))
    for _ in range(3):
        assert fetch(browser, f"{path}/files/pdf").status_code == 200
    assert browser.get(f"{path}/files/pdf").status_code == 410
    assert browser.get(path).status_code == 200  # the export is still there
    for _ in range(3):
        assert fetch(browser, f"{path}/files/export").status_code == 200
    gone = browser.get(path)
    assert gone.status_code == 410
    assert "downloaded as many times as allowed" in gone.get_data(as_text=True)


def test_wrong_codes_are_throttled(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    send(dpo, done.reference)
    path = download_path(smtp_server, 1)
    browser = requester(app)
    code = ask_code(browser, path, smtp_server)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        status, text = give_code(browser, path, wrong)
        assert status == 400
        assert f"Attempts left: {left}" in text
    status, text = give_code(browser, path, wrong)
    assert status == 400 and "locked for an hour" in text
    status, text = give_code(browser, path, code)  # even the right code, now
    assert status == 400 and "locked for an hour" in text
    assert browser.get(f"{path}/files/pdf").status_code == 303
    with db.open_session(db.get_engine(app)) as session:
        link = session.exec(select(DownloadLink)).one()
        assert link.locked_until is not None and link.code_hash is None


def test_an_expired_link_answers_410(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    send(dpo, done.reference)
    path = download_path(smtp_server, 1)
    with db.transaction(db.get_engine(app)) as session:
        past = db.utcnow() - timedelta(minutes=1)
        session.execute(update(DownloadLink).values(expires_at=past))
        session.execute(update(Report).values(expires_at=past))
    answer = requester(app).get(path)
    assert answer.status_code == 410
    assert "no longer valid" in answer.get_data(as_text=True)
    assert requester(app).get("/download/not-a-token").status_code == 404


def test_an_encrypted_pdf_opens_with_the_password_shown_once(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    shown = send(dpo, done.reference, method="encrypted")
    marker = "Password of the encrypted PDF, shown this once: "
    assert marker in shown
    password = shown.split(marker, 1)[1].split(".", 1)[0]
    assert len(password) == 23
    again = dpo.get(f"/dashboard/requests/{done.reference}").get_data(as_text=True)
    assert password not in again

    (mail,) = smtp_server.wait_for(1)
    assert password not in mail.text and "password" in mail.text
    path = download_path(smtp_server, 1)
    browser = requester(app)
    give_code(browser, path, ask_code(browser, path, smtp_server))
    assert all(password not in message.text for message in smtp_server.messages)
    pdf = fetch(browser, f"{path}/files/pdf").data

    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted
    assert not reader.decrypt("not the password")
    locked = PdfReader(io.BytesIO(pdf))
    assert locked.decrypt(password)
    assert done.reference in locked.pages[0].extract_text()
    stored_pdf = Path(report_rows(app, done.request_id)[ReportKind.PDF].path)
    assert stored_pdf.read_bytes() == pdf
    assert stored_pdf.stat().st_mode & 0o777 == 0o600
    qpdf_check(stored_pdf, password)


def test_a_failed_request_is_run_again_from_its_page(
    app: Flask, dpo: FlaskClient, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    platform = app.config["SYSTEM_ENVIRONMENT"][PLATFORM_VARIABLE]
    app.config["SYSTEM_ENVIRONMENT"] = {PLATFORM_VARIABLE: CLOSED_PORT_URL}
    with db.transaction(db.get_engine(app)) as session:
        request = make_request(session, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL)
    assert request.id is not None
    page = approve(dpo, request.reference, request.version_id)
    assert stored(app, request.id).status is Status.FAILED
    assert "system `learner_platform` could not be read" in page
    assert smtp_server.messages == []

    app.config["SYSTEM_ENVIRONMENT"] = {PLATFORM_VARIABLE: platform}
    failed = stored(app, request.id)
    answer = dpo.post(
        f"/dashboard/requests/{request.reference}/run",
        data={"csrf_token": csrf_token(dpo.get("/dashboard/")), "version_id": failed.version_id},
    )
    assert answer.status_code == 303
    assert stored(app, request.id).status is Status.READY_TO_SEND
    assert report_rows(app, request.id)


def test_the_emails_speak_the_requesters_language(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request(language=Language.FR)
    send(dpo, done.reference)
    (mail,) = smtp_server.wait_for(1)
    assert mail.message["Subject"] == f"Votre demande {done.reference} : vos données sont prêtes"
    assert "Pour la télécharger, ouvrez ce lien" in mail.text
    assert mail.html is not None and "Télécharger vos données" in mail.html
    path = download_path(smtp_server, 1)
    ask_code(requester(app), path, smtp_server)
    code_mail = smtp_server.messages[-1]
    assert code_mail.envelope_recipients == (SAMPLE_LEARNER_EMAIL,)
    assert code_mail.message["Subject"] == (
        f"Votre code de téléchargement pour la demande {done.reference}"
    )
    assert "Il fonctionne une seule fois, pendant 15 minutes." in code_mail.text


def test_an_approved_request_that_did_not_run_can_be_run_from_its_page(
    app: Flask, dpo: FlaskClient, smtp_server: SmtpServer
) -> None:
    app.config["EXECUTE_AFTER_APPROVAL"] = False
    with db.transaction(db.get_engine(app)) as session:
        request = make_request(session, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL)
    assert request.id is not None
    page = approve(dpo, request.reference, request.version_id)
    assert stored(app, request.id).status is Status.APPROVED
    assert "Run now" in page
    answer = dpo.post(
        f"/dashboard/requests/{request.reference}/run",
        data={
            "csrf_token": csrf_token(dpo.get("/dashboard/")),
            "version_id": stored(app, request.id).version_id,
        },
    )
    assert answer.status_code == 303
    assert stored(app, request.id).status is Status.READY_TO_SEND


def test_the_complete_export_is_offered_and_downloaded_beside_the_pdf(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    rows = report_rows(app, done.request_id)
    assert set(rows) == {ReportKind.PDF, ReportKind.EXPORT}  # no Art. 20 zip for an access
    panel = dpo.get(f"/dashboard/requests/{done.reference}").get_data(as_text=True)
    assert f"/dashboard/requests/{done.reference}/reports/export" in panel
    assert "Complete export (zip of JSON and CSV)" in panel and "Access report (PDF)" in panel
    assert " KB</td>" in panel
    staff_copy = fetch(dpo, f"/dashboard/requests/{done.reference}/reports/export")
    assert staff_copy.mimetype == "application/zip"
    assert staff_copy.headers["Content-Disposition"].startswith("attachment;")

    send(dpo, done.reference)
    (mail,) = smtp_server.wait_for(1)
    assert "complete export of your data" in str(mail.message.get_body(("plain",)))
    path = download_path(smtp_server, 1)
    browser = requester(app)
    give_code(browser, path, ask_code(browser, path, smtp_server))
    listing = browser.get(path).get_data(as_text=True)
    assert f"{path}/files/pdf" in listing and f"{path}/files/export" in listing
    assert "All your data in a machine-readable format" in listing
    size = rows[ReportKind.EXPORT].size / 1024
    assert f"{size:,.1f} KB" in listing
    assert listing.count("downloads left: 3") == 2

    export = fetch(browser, f"{path}/files/export")
    assert export.status_code == 200
    assert export.mimetype == "application/zip"
    assert export.data == Path(rows[ReportKind.EXPORT].path).read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    assert "README.txt" in archive.namelist() and "contact.json" in archive.namelist()
    assert report_rows(app, done.request_id)[ReportKind.EXPORT].downloads_left == 2
    assert "downloads left: 2" in browser.get(path).get_data(as_text=True)
