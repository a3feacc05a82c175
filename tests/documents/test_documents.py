"""The documents kept with a request (R44-R46): sealed in the store on SQLite, PostgreSQL and
MariaDB (no byte of the file or of its name readable there), opened by staff who work requests
only (audited), refused when empty, too large or of another type (400, nothing stored), their
content deleted by staff with a reason or when the request is minimised, the fact kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.documents import service
from dsr.documents.models import DocumentKind, RemovalCause, RequestDocument
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.jobs import minimise_closed
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor, Status
from dsr.scheduler.runs import JobOutcome, SchedulerSettings
from dsr.sealing import SecretBox
from tests.conftest import MakeApp
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token

LETTER = "Madame, je souhaite accéder à mes données. Zoé Lefèvre, 12 rue des Lilas, Lyon.\n"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BOX = SecretBox("a-test-secret-key-for-documents", service.DOCUMENT_PURPOSE)
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SETTINGS = SchedulerSettings(
    secret_key="a secret for the tests only", smtp=SmtpSettings(host="127.0.0.1", port=9)
)


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_document_is_sealed_in_the_store_and_opens_for_staff(session: Session) -> None:
    request = make_request(session)
    document = service.add_document(
        db_session=session,
        request=request,
        kind=DocumentKind.RECEIVED_MESSAGE,
        filename="C:\\scans\\lettre-zoé-lefèvre.txt",
        data=LETTER.encode(),
        box=BOX,
        max_bytes=1024 * 1024,
        added_by="dpo@example.org",
        actor=Actor.STAFF,
        now=NOW,
    )
    session.commit()

    stored = session.execute(
        text("SELECT sealed_content, sealed_name, size, content_type FROM dsr_request_document")
    ).one()
    assert b"Lef" not in bytes(stored.sealed_content) and "Lef" not in stored.sealed_name
    assert stored.size == len(LETTER.encode()) and stored.content_type.startswith("text/plain")

    opened = service.open_document(
        db_session=session,
        request=request,
        document_id=document.id or 0,
        box=BOX,
        staff_label="dpo@example.org",
        now=NOW,
    )
    assert opened is not None
    assert opened.data.decode() == LETTER and opened.name == "lettre-zoé-lefèvre.txt"
    actions = session.exec(
        select(RequestEvent.action).where(RequestEvent.request_id == request.id)
    ).all()
    assert service.ADDED_ACTION in actions and service.VIEWED_ACTION in actions
    other_key = SecretBox("another-key-entirely-another-one", service.DOCUMENT_PURPOSE)
    assert (
        service.open_document(
            db_session=session,
            request=request,
            document_id=document.id or 0,
            box=other_key,
            staff_label="dpo@example.org",
            now=NOW,
        )
        is None
    )


@pytest.mark.databases("sqlite", "mariadb")
def test_a_large_document_fits_on_every_engine(session: Session) -> None:
    """A scanned letter of a few MiB (MariaDB's BLOB would stop at 64 KiB)."""
    request = make_request(session)
    scan = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 12_000
    document = service.add_document(
        db_session=session,
        request=request,
        kind=DocumentKind.MANDATE,
        filename="mandat.png",
        data=scan,
        box=BOX,
        max_bytes=10 * 1024 * 1024,
        added_by="dpo@example.org",
        actor=Actor.STAFF,
        now=NOW,
    )
    session.commit()
    session.expire_all()
    opened = service.open_document(
        db_session=session,
        request=request,
        document_id=document.id or 0,
        box=BOX,
        staff_label="dpo@example.org",
        now=NOW,
    )
    assert opened is not None and opened.data == scan and opened.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        (b"", 1024),
        (b"x" * 2048, 1024),
        (b"MZ\x90\x00\x03\x00\x00\x00", 1024),  # a Windows program
        (b"GIF89a\x01\x00", 1024),
        (b"text with a \x07 bell", 1024),
        (b"\xff\xfe not UTF-8", 1024),
    ],
    ids=["empty", "too-large", "program", "gif", "control-character", "not-utf8"],
)
def test_a_document_the_desk_does_not_keep_is_refused(data: bytes, limit: int) -> None:
    with pytest.raises(service.DocumentRefused):
        service.add_document(
            db_session=None,  # type: ignore[arg-type]  # refused before the store is touched
            request=DataRequest(),
            kind=DocumentKind.OTHER,
            filename="x",
            data=data,
            box=BOX,
            max_bytes=limit,
            added_by="dpo@example.org",
            actor=Actor.STAFF,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\zoe\\carte.pdf", "carte.pdf"),
        ("a\x00b\nc.pdf", "a_b_c.pdf"),
        ("", "document"),
        ("...", "document"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_a_file_name_is_kept_without_folders_or_control_characters(given: str, kept: str) -> None:
    assert service.safe_name(given) == kept


# --- the request's page -------------------------------------------------------------------------


def english(client: FlaskClient) -> FlaskClient:
    """The client, reading the pages in English (the desk's default is French)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    return client


def new_request(app: Flask) -> DataRequest:
    with db.transaction(db.get_engine(app)) as session:
        return make_request(session, status=Status.IN_REVIEW, received_at=datetime.now(UTC))


def upload(
    client: FlaskClient,
    reference: str,
    data: bytes,
    name: str = "lettre.pdf",
    kind: str = "mandate",
) -> tuple[int, str]:
    page = client.get(f"/dashboard/requests/{reference}")
    answer = client.post(
        f"/dashboard/requests/{reference}/documents",
        data={"csrf_token": csrf_token(page), "kind": kind, "file": (BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    if answer.status_code == 303:
        return 303, client.get(answer.headers["Location"]).get_data(as_text=True)
    return answer.status_code, answer.get_data(as_text=True)


def documents(app: Flask) -> list[RequestDocument]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(RequestDocument).order_by(col(RequestDocument.id))).all())


def test_staff_keep_a_document_and_download_it(app: Flask) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    request = new_request(app)

    code, html = upload(dpo, request.reference, PDF, name="mandat signé.pdf")

    assert code == 303
    assert "Representative&#39;s mandate" in html or "Representative's mandate" in html
    [document] = documents(app)
    answer = dpo.get(f"/dashboard/requests/{request.reference}/documents/{document.id}")
    assert answer.status_code == 200
    assert answer.data == PDF
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert "mandat" in answer.headers["Content-Disposition"]


def test_a_document_larger_than_a_form_is_accepted_up_to_the_limit(make_app: MakeApp) -> None:
    app = make_app(DOCUMENT_MAX_BYTES=400_000)
    dpo = english(logged_in(app, "dpo@example.org"))
    request = new_request(app)
    scan = b"%PDF-1.7\n" + b"0" * 300_000  # more than the 128 KiB any other form may send

    assert upload(dpo, request.reference, scan)[0] == 303
    code, html = upload(dpo, request.reference, scan + b"0" * 200_000)
    assert code == 413
    assert len(documents(app)) == 1


@pytest.mark.parametrize(
    ("data", "name", "kind", "message"),
    [
        (b"MZ\x90\x00", "virus.exe", "mandate", "Send a PDF, a PNG or JPEG image"),
        (b"", "vide.pdf", "mandate", "The file is empty."),
        (PDF, "", "mandate", "Choose the file to keep."),
        (PDF, "a.pdf", "passport_photo", "Not a valid choice"),
    ],
)
def test_a_refused_document_shows_the_form_again_and_stores_nothing(
    app: Flask, data: bytes, name: str, kind: str, message: str
) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    request = new_request(app)

    code, html = upload(dpo, request.reference, data, name=name, kind=kind)

    assert code == 400
    assert message in html
    assert documents(app) == []


def test_auditors_see_the_documents_but_cannot_open_or_add_one(app: Flask) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    auditor = english(logged_in(app, "auditor@example.org", StaffRole.AUDITOR))
    request = new_request(app)
    upload(dpo, request.reference, PDF)
    [document] = documents(app)

    page = auditor.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "Representative&#39;s mandate" in page or "Representative's mandate" in page
    assert f"/documents/{document.id}" not in page
    assert (
        auditor.get(f"/dashboard/requests/{request.reference}/documents/{document.id}").status_code
        == 403
    )
    answer = auditor.post(
        f"/dashboard/requests/{request.reference}/documents",
        data={
            "csrf_token": csrf_token(auditor.get(f"/dashboard/requests/{request.reference}")),
            "kind": "mandate",
            "file": (BytesIO(PDF), "a.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 403
    assert len(documents(app)) == 1


def test_staff_delete_a_documents_content_with_a_reason_and_the_fact_stays(app: Flask) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    request = new_request(app)
    upload(dpo, request.reference, PDF)
    [document] = documents(app)
    path = f"/dashboard/requests/{request.reference}/documents/{document.id}/remove"
    token = csrf_token(dpo.get(f"/dashboard/requests/{request.reference}"))
    prefix = f"document-{document.id}-"

    refused = dpo.post(path, data={"csrf_token": token, f"{prefix}reason": " "})
    assert refused.status_code == 400
    assert "Say why the document is deleted." in refused.get_data(as_text=True)

    done = dpo.post(path, data={"csrf_token": token, f"{prefix}reason": "Attached by mistake"})
    assert done.status_code == 303
    [document] = documents(app)
    assert document.sealed_content is None and document.sealed_name is None
    assert document.removal_cause is RemovalCause.STAFF and document.size == len(PDF)
    assert (
        dpo.get(f"/dashboard/requests/{request.reference}/documents/{document.id}").status_code
        == 404
    )
    assert dpo.post(path, data={"csrf_token": token, f"{prefix}reason": "again"}).status_code == 409
    assert "deleted by staff" in dpo.get(f"/dashboard/requests/{request.reference}").get_data(
        as_text=True
    )


def test_a_document_of_another_request_is_not_found(app: Flask) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    first, second = new_request(app), new_request(app)
    upload(dpo, first.reference, PDF)
    [document] = documents(app)

    assert (
        dpo.get(f"/dashboard/requests/{second.reference}/documents/{document.id}").status_code
        == 404
    )
    assert dpo.get(f"/dashboard/requests/{first.reference}/documents/999999").status_code == 404


@pytest.mark.databases("sqlite", "postgresql")
def test_minimising_a_closed_request_deletes_its_documents_content(store: Engine) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=6 * 365)
    with db.transaction(store) as session:
        request = make_request(session, status=Status.COMPLETED, received_at=long_ago)
        service.add_document(
            db_session=session,
            request=request,
            kind=DocumentKind.RECEIVED_MESSAGE,
            filename="lettre.txt",
            data=LETTER.encode(),
            box=BOX,
            max_bytes=1024 * 1024,
            added_by="dpo@example.org",
            actor=Actor.STAFF,
            now=long_ago,
        )
    minimise_closed(store, SETTINGS, datetime.now(UTC), JobOutcome())

    with db.open_session(store) as session:
        [document] = session.exec(select(RequestDocument)).all()
        assert document.sealed_content is None and document.sealed_name is None
        assert document.removal_cause is RemovalCause.MINIMISED
