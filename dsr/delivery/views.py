"""The requester's download page: it asks for a one-time code and then serves the files. Staff
open and send a request's reports from its page (`dsr.dashboard.request_actions`).

The download pages are public (the link's token and the emailed code are the proof), rate
limited, never cached, and name nothing personal in their URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import public_endpoint
from dsr.db import get_session, utcnow
from dsr.delivery import service
from dsr.delivery.forms import DownloadCodeForm
from dsr.delivery.models import DeliveryMethod, DownloadLink, ReportKind
from dsr.extensions import limiter
from dsr.i18n import gettext
from dsr.requests.models import DataRequest
from dsr.worker.enqueue import deliver_after_commit

blueprint = Blueprint("delivery", __name__)

MEDIA_TYPES: Mapping[ReportKind, str] = {
    ReportKind.PDF: "application/pdf",
    ReportKind.ZIP: "application/zip",
    ReportKind.EXPORT: "application/zip",
}
_OPENED_KEY = "delivery.opened.{link_id}"


def _per_address_limit() -> str:
    return str(current_app.config["DOWNLOAD_LIMIT_PER_ADDRESS"])


def _codes_per_link_limit() -> str:
    return str(current_app.config["DOWNLOAD_CODES_PER_LINK"])


def _link_key() -> str:
    """Count code emails per download link (by the token's path, not by the visitor)."""
    return "download-link:" + request.path


_per_address = limiter.shared_limit(_per_address_limit, scope="download", methods=["POST"])
_codes_per_link = limiter.limit(_codes_per_link_limit, key_func=_link_key, methods=["POST"])


def private_response(response: AnyResponse) -> AnyResponse:
    """Return `response` kept out of caches and of the next site's Referer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def report_kind_of(value: str) -> ReportKind:
    """Return the report kind a URL names, or answer 404."""
    try:
        return ReportKind(value)
    except ValueError:
        abort(404)


# --- the requester: the download page ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Opened:
    link: DownloadLink
    data_request: DataRequest


def _open_link(token: str, now: datetime) -> _Opened | AnyResponse:
    """Return the link of `token`, or the page to show instead (404 unknown, 410 gone)."""
    db_session = get_session()
    link = service.link_for_token(db_session, token)
    data_request = db_session.get(DataRequest, link.request_id) if link is not None else None
    if link is None or data_request is None:
        abort(404)
    state = service.link_state(db_session, link, now=now)
    if state is not service.LinkState.OPEN:
        page = render_template("delivery/gone.html", exhausted=state is service.LinkState.EXHAUSTED)
        return private_response(Response(page, status=410))
    return _Opened(link, data_request)


def _is_opened(link: DownloadLink, now: datetime) -> bool:
    until = session.get(_OPENED_KEY.format(link_id=link.id))
    return isinstance(until, int | float) and until > now.timestamp()


@blueprint.route("/download/<token>", methods=["GET", "POST"])
@public_endpoint
@_per_address
def download_page(token: str) -> AnyResponse:
    """Ask for the emailed code; once it is given, list the files to download."""
    now = utcnow()
    opened = _open_link(token, now)
    if not isinstance(opened, _Opened):
        return opened
    link = opened.link
    db_session = get_session()
    form = DownloadCodeForm(request.form if request.method == "POST" else None)
    code = 200
    if request.method == "POST":
        if not form.validate():
            code = 400
        else:
            try:
                service.check_code(
                    db_session=db_session,
                    link=link,
                    code=form.code.data or "",
                    now=now,
                    secret_key=str(current_app.config["SECRET_KEY"]),
                )
            except service.DeliveryRefused as error:
                db_session.commit()  # the wrong attempt counts even though the answer is 400
                form.form_errors.append(error.message)
                code = 400
            else:
                session[_OPENED_KEY.format(link_id=link.id)] = (
                    now + service.OPENED_FOR
                ).timestamp()
                page_again = redirect(url_for("delivery.download_page", token=token), 303)
                return private_response(page_again)
    page = render_template(
        "delivery/download.html",
        token=token,
        form=form,
        opened=_is_opened(link, now),
        link=link,
        reports=service.reports_of(db_session, link.request_id),
        reference=opened.data_request.reference,
        code_sent=link.code_hash is not None,
        encrypted=link.method is DeliveryMethod.ENCRYPTED,
    )
    return private_response(Response(page, status=code))


@blueprint.post("/download/<token>/code")
@public_endpoint
@_per_address
@_codes_per_link
def download_code(token: str) -> AnyResponse:
    """Email a new one-time code to the requester's address."""
    now = utcnow()
    opened = _open_link(token, now)
    if not isinstance(opened, _Opened):
        return opened
    db_session = get_session()
    try:
        service.send_code(
            db_session=db_session,
            link=opened.link,
            now=now,
            secret_key=str(current_app.config["SECRET_KEY"]),
        )
    except service.DeliveryRefused as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        deliver_after_commit(db_session)
        flash(gettext("We sent a code to your email address. It works once, for 15 minutes."))
    return private_response(redirect(url_for("delivery.download_page", token=token), 303))


@blueprint.get("/download/<token>/files/<kind>")
@public_endpoint
def download_file(token: str, kind: str) -> AnyResponse:
    """Serve one file to a requester who gave the code, while downloads are left."""
    report_kind = report_kind_of(kind)
    now = utcnow()
    opened = _open_link(token, now)
    if not isinstance(opened, _Opened):
        return opened
    if not _is_opened(opened.link, now):
        return private_response(redirect(url_for("delivery.download_page", token=token), 303))
    db_session = get_session()
    try:
        report = service.take_download(
            db_session=db_session, link=opened.link, kind=report_kind, now=now
        )
    except service.DeliveryRefused:
        db_session.rollback()
        page = render_template("delivery/gone.html", exhausted=True)
        return private_response(Response(page, status=410))
    response = send_file(
        report.path,
        mimetype=MEDIA_TYPES[report_kind],
        as_attachment=True,
        download_name=Path(report.path).name,
        max_age=0,
    )
    return private_response(response)
