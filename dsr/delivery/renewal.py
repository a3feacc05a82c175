"""A new download link for a requester who lost the email of their answer (R47, R13).

From their status page, while their answer is valid (the link not expired, downloads left), a
requester can have a fresh link emailed to the verified address of the request: the old link
stops working, the files, their expiry and their downloads stay as they are. Services flush; the
caller commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from dsr.audit.models import record_action
from dsr.dates import written_date
from dsr.delivery.models import DeliveryMethod, ReportKind
from dsr.delivery.service import DeliveryRefused, LinkState, link_of, link_state, reports_of
from dsr.i18n import lazy_gettext
from dsr.requests.models import DataRequest
from dsr.requests.service import mail_requester
from dsr.requests.workflow import Actor, Status
from dsr.tokens import token_digest

RENEWED_ACTION = "download_link_renewed"


def can_renew_link(db_session: Session, request: DataRequest, *, now: datetime) -> bool:
    """Whether the requester can have a new link to their answer emailed now."""
    if request.status is not Status.COMPLETED or request.verified_at is None:
        return False
    link = link_of(db_session, request.id)
    return link is not None and link_state(db_session, link, now=now) is LinkState.OPEN


def renew_link(
    *,
    db_session: Session,
    request: DataRequest,
    now: datetime,
    download_url: Callable[[str], str],
) -> None:
    """Email the requester a new link to their answer, at the request's verified address only;
    the previous link (and its pending code) stops working. Raise DeliveryRefused when the
    request has no valid answer to download."""
    if not can_renew_link(db_session, request, now=now):
        raise DeliveryRefused(
            lazy_gettext(
                "There is no download link to renew for this request: its files were never "
                "sent, or they are no longer available."
            )
        )
    link = link_of(db_session, request.id)
    if link is None:
        raise RuntimeError("can_renew_link checked the link")
    reports = reports_of(db_session, request.id)
    token = secrets.token_urlsafe(32)
    link.token_hash = token_digest(token)
    link.code_hash = None
    link.code_expires_at = None
    db_session.flush()
    mail_requester(
        db_session,
        request,
        "report_ready",
        dedup_key=f"report-link-renewed:{request.id}:{link.token_hash[:32]}",
        now=now,
        download_url=download_url(token),
        expires_on=written_date(link.expires_at, request.language, request.zone),
        downloads=min(report.downloads_left for report in reports),
        encrypted=link.method is DeliveryMethod.ENCRYPTED,
        with_archive=any(report.kind is ReportKind.ZIP for report in reports),
        with_export=any(report.kind is ReportKind.EXPORT for report in reports),
    )
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.REQUESTER,
        action=RENEWED_ACTION,
        at=now,
    )
