"""Review, delivery and expiry of a request's reports (R13, R32).

Staff send the reports once they have looked at them: the requester gets, at their verified
address only, a link to a download page; the page emails a one-time code to the same address,
and a correct code opens the files for a limited number of downloads until the link expires.
Staff may instead have the PDF encrypted (AES-256): its password is returned once, to be given
by another channel, and the file goes through the same page. Codes are stored as an HMAC keyed
with the application's secret; tokens as their SHA-256. Services flush; the caller commits.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader, PdfWriter
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.audit.models import record_action
from dsr.dates import written_date
from dsr.delivery.models import DeliveryMethod, DownloadLink, Report, ReportKind
from dsr.execution.access import COLLECTED, file_digest, write_private
from dsr.i18n import lazy_gettext
from dsr.outbox.models import OutboxStatus
from dsr.requests.answers import answer_email
from dsr.requests.models import AnswerChannel, DataRequest
from dsr.requests.service import mail_requester
from dsr.requests.workflow import Actor, Status
from dsr.tokens import token_digest

CODE_DIGITS = 6
CODE_VALIDITY = timedelta(minutes=15)
WRONG_CODES_ALLOWED = 5
LOCK_DURATION = timedelta(hours=1)
OPENED_FOR = timedelta(minutes=15)
"""How long a correct code keeps the files open in the requester's browser session."""
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
PASSWORD_GROUPS = 4
PASSWORD_GROUP_LENGTH = 5

SENT_ACTION = "report_sent"
VIEWED_ACTION = "report_viewed"
DOWNLOADED_ACTION = "report_downloaded"
CODE_SENT_ACTION = "download_code_sent"
LOCKED_ACTION = "download_locked"
PURGED_ACTION = "reports_purged"


class DeliveryRefused(Exception):
    """Something staff or the requester cannot do now; `message` is written for them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LinkState(StrEnum):
    OPEN = "open"
    EXPIRED = "expired"  # past its date, or its files were deleted
    EXHAUSTED = "exhausted"  # every file was downloaded as many times as allowed


@dataclass(frozen=True, slots=True)
class SentReport:
    """The outcome of sending: the link's token (in the email only) and, for an encrypted PDF,
    the password to show staff once."""

    token: str
    password: str | None


def reports_of(db_session: Session, request_id: int | None) -> list[Report]:
    """Return the request's stored reports, the PDF first."""
    found = db_session.exec(select(Report).where(Report.request_id == request_id)).all()
    return sorted(found, key=lambda report: (report.kind is not ReportKind.PDF, report.id or 0))


def report_of(db_session: Session, request_id: int | None, kind: ReportKind) -> Report | None:
    return next((r for r in reports_of(db_session, request_id) if r.kind is kind), None)


def link_of(db_session: Session, request_id: int | None) -> DownloadLink | None:
    """Return the download link sent for the request, if any."""
    return db_session.exec(
        select(DownloadLink).where(DownloadLink.request_id == request_id)
    ).one_or_none()


def link_for_token(db_session: Session, token: str) -> DownloadLink | None:
    return db_session.exec(
        select(DownloadLink).where(DownloadLink.token_hash == token_digest(token))
    ).one_or_none()


def new_password() -> str:
    """Return a password of about 115 bits, in groups easy to read out on the phone."""
    groups = (
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LENGTH))
        for _ in range(PASSWORD_GROUPS)
    )
    return "-".join(groups)


def encrypt_pdf(path: Path, password: str) -> tuple[int, str]:
    """Replace the PDF at `path` with its AES-256 encryption; return its new size and SHA-256.

    The owner password is random and forgotten: nobody needs to change the file's permissions.
    """
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.encrypt(
        user_password=password, owner_password=secrets.token_urlsafe(32), algorithm="AES-256"
    )
    encrypted = path.with_name(path.name + ".encrypting")

    def write(out: BinaryIO) -> None:
        writer.write(out)

    write_private(encrypted, write)
    encrypted.replace(path)
    return file_digest(path)


def send_reports(
    *,
    db_session: Session,
    request: DataRequest,
    staff_label: str,
    method: DeliveryMethod,
    now: datetime,
    delivery_days: int,
    download_url: Callable[[str], str],
) -> SentReport:
    """Email the requester a link to their reports, at their verified address only: that email
    is the request's answer, and its delivery completes the request (R47).

    Refused unless the request is ready to send with reports not yet sent (or whose email failed
    for good: a new link replaces the old one, the files as they are) nor expired. The reports'
    expiry and the link's are set to `delivery_days` from now.
    """
    method = DeliveryMethod(method)
    if request.status is not Status.READY_TO_SEND:
        raise DeliveryRefused(
            lazy_gettext("Only the reports of a request ready to send can be sent.")
        )
    if request.verified_at is None:
        raise DeliveryRefused(
            lazy_gettext("The requester's address is not verified: nothing can be sent to it.")
        )
    if request.answer_channel is AnswerChannel.POST:
        raise DeliveryRefused(
            lazy_gettext(
                "This request is answered by post: print its reports, post them, and record the "
                "answer posted."
            )
        )
    reports = reports_of(db_session, request.id)
    if not reports:
        raise DeliveryRefused(lazy_gettext("This request has no report to send."))
    previous = link_of(db_session, request.id)
    if previous is not None:
        sent_before = answer_email(db_session, request.id)
        if sent_before is None or sent_before.status is not OutboxStatus.FAILED:
            raise DeliveryRefused(lazy_gettext("The reports were already sent."))
        method = previous.method  # the files stay as they were sent (an encrypted PDF too)
        db_session.delete(previous)
        db_session.flush()
    if any(report.expires_at <= now for report in reports):
        raise DeliveryRefused(
            lazy_gettext("The reports have expired: run the request again to produce them.")
        )
    if request.id is None:
        raise RuntimeError("a stored request has an id")
    password: str | None = None
    if method is DeliveryMethod.ENCRYPTED and previous is None:
        password = new_password()
        for report in reports:
            if report.kind is ReportKind.PDF:
                report.size, report.sha256 = encrypt_pdf(Path(report.path), password)
                report.encrypted = True
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=delivery_days)
    db_session.add(
        DownloadLink(
            request_id=request.id,
            token_hash=token_digest(token),
            method=method,
            created_at=now,
            expires_at=expires_at,
        )
    )
    for report in reports:
        report.delivered_at = now
        report.expires_at = expires_at
    db_session.flush()
    mail_requester(
        db_session,
        request,
        "report_ready",
        dedup_key=f"report-ready:{request.id}:{token_digest(token)[:32]}",
        now=now,
        answers=True,
        download_url=download_url(token),
        expires_on=written_date(expires_at, request.language, request.zone),
        downloads=min(report.downloads_left for report in reports),
        encrypted=method is DeliveryMethod.ENCRYPTED,
        with_archive=any(report.kind is ReportKind.ZIP for report in reports),
        with_export=any(report.kind is ReportKind.EXPORT for report in reports),
    )
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=SENT_ACTION,
        at=now,
        details={"method": method.value, "files": [report.kind.value for report in reports]},
    )
    return SentReport(token=token, password=password)


def link_state(db_session: Session, link: DownloadLink, *, now: datetime) -> LinkState:
    """Tell whether the link still opens files."""
    reports = reports_of(db_session, link.request_id)
    if link.expires_at <= now or not reports or any(r.expires_at <= now for r in reports):
        return LinkState.EXPIRED
    if all(report.downloads_left <= 0 for report in reports):
        return LinkState.EXHAUSTED
    return LinkState.OPEN


def _code_digest(secret_key: str, link: DownloadLink, code: str) -> str:
    message = f"download-code:{link.id}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _check_lock(link: DownloadLink, now: datetime) -> None:
    if link.locked_until is not None and link.locked_until > now:
        raise DeliveryRefused(
            lazy_gettext(
                "Too many wrong codes were entered: downloading is locked for an hour. Ask for a "
                "new code after that."
            )
        )


def send_code(
    *,
    db_session: Session,
    link: DownloadLink,
    now: datetime,
    secret_key: str,
) -> None:
    """Email a new one-time code to the requester's address (the previous one stops working)."""
    _check_lock(link, now)
    request = db_session.get(DataRequest, link.request_id)
    if request is None or request.verified_at is None:
        raise DeliveryRefused(lazy_gettext("This link is no longer valid."))
    if link.locked_until is not None:  # the lock is over: a fresh count of attempts
        link.locked_until = None
        link.wrong_codes = 0
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    link.code_hash = _code_digest(secret_key, link, code)
    link.code_expires_at = now + CODE_VALIDITY
    link.codes_sent += 1
    db_session.flush()
    mail_requester(
        db_session,
        request,
        "download_code",
        dedup_key=f"download-code:{link.id}:{link.codes_sent}",
        now=now,
        code=code,
        minutes=int(CODE_VALIDITY.total_seconds() // 60),
    )
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.REQUESTER,
        action=CODE_SENT_ACTION,
        at=now,
    )


def check_code(
    *,
    db_session: Session,
    link: DownloadLink,
    code: str,
    now: datetime,
    secret_key: str,
) -> None:
    """Accept the current code once; count a wrong one and lock the link after too many."""
    _check_lock(link, now)
    if link.code_hash is None or link.code_expires_at is None or link.code_expires_at <= now:
        raise DeliveryRefused(
            lazy_gettext("This code has expired or was already used: ask for a new one.")
        )
    candidate = "".join(code.split())
    if hmac.compare_digest(link.code_hash, _code_digest(secret_key, link, candidate)):
        link.code_hash = None
        link.code_expires_at = None
        link.wrong_codes = 0
        db_session.flush()
        return
    link.wrong_codes += 1
    if link.wrong_codes >= WRONG_CODES_ALLOWED:
        link.code_hash = None
        link.code_expires_at = None
        link.locked_until = now + LOCK_DURATION
        db_session.flush()
        record_action(
            db_session=db_session,
            request=db_session.get(DataRequest, link.request_id),
            actor=Actor.SYSTEM,
            action=LOCKED_ACTION,
            at=now,
        )
        _check_lock(link, now)
    db_session.flush()
    left = WRONG_CODES_ALLOWED - link.wrong_codes
    raise DeliveryRefused(
        lazy_gettext("This code is not the right one. Attempts left: %(left)d.", left=left)
    )


def take_download(
    *, db_session: Session, link: DownloadLink, kind: ReportKind, now: datetime
) -> Report:
    """Count one download of the report of `kind` and return it; refuse when none is left or
    it expired (a concurrent download cannot take the last one twice)."""
    report = report_of(db_session, link.request_id, kind)
    if report is None or link.expires_at <= now:
        raise DeliveryRefused(lazy_gettext("This file is no longer available."))
    taken = db_session.execute(
        update(Report)
        .where(
            col(Report.id) == report.id,
            col(Report.downloads_left) > 0,
            col(Report.expires_at) > now,
        )
        .values(downloads_left=Report.downloads_left - 1)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise DeliveryRefused(lazy_gettext("This file was downloaded as many times as allowed."))
    db_session.refresh(report)
    record_action(
        db_session=db_session,
        request=db_session.get(DataRequest, link.request_id),
        actor=Actor.REQUESTER,
        action=DOWNLOADED_ACTION,
        at=now,
        details={"file": kind.value, "downloads_left": report.downloads_left},
    )
    return report


def record_viewed(
    *, db_session: Session, request: DataRequest, kind: ReportKind, staff_label: str, now: datetime
) -> None:
    """Audit that a member of staff opened a report (it holds the subject's data)."""
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=VIEWED_ACTION,
        at=now,
        details={"file": kind.value},
    )


def discard_files(paths: Sequence[str]) -> None:
    """Delete report files and the collected data beside them, and their folders when empty."""
    folders: set[Path] = set()
    for name in paths:
        path = Path(name)
        path.unlink(missing_ok=True)
        folders.add(path.parent)
    for folder in folders:
        shutil.rmtree(folder / COLLECTED, ignore_errors=True)
        with contextlib.suppress(OSError):  # something else is still there: not ours
            folder.rmdir()


def purge_expired_reports(*, engine: Engine, now: datetime) -> int:
    """Delete the files, collected data and rows of every report expired at `now`; return how
    many reports were deleted. Each request is purged in its own transaction; its files go
    before its rows, so that a crash in between leaves rows that the next purge finishes."""
    with db.open_session(engine) as db_session:
        request_ids = sorted(
            set(
                db_session.exec(
                    select(Report.request_id).where(col(Report.expires_at) <= now)
                ).all()
            )
        )
    purged = 0
    for request_id in request_ids:
        with db.transaction(engine) as db_session:
            expired = [
                report for report in reports_of(db_session, request_id) if report.expires_at <= now
            ]
            if not expired:
                continue
            discard_files([report.path for report in expired])
            for report in expired:
                db_session.delete(report)
            record_action(
                db_session=db_session,
                request=db_session.get(DataRequest, request_id),
                actor=Actor.SYSTEM,
                action=PURGED_ACTION,
                at=now,
                details={"files": [report.kind.value for report in expired]},
            )
            purged += len(expired)
    return purged
