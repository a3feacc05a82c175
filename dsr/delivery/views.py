"""The pages of delivery: staff open a request's reports and send them (or run a failed request
again); the requester's download page asks for a one-time code and then serves the files.

The download pages are public (the link's token and the emailed code are the proof), rate
limited, never cached, and name nothing personal in their URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

from dsr.accounts.access import current_staff, public_endpoint, staff_required
from dsr.accounts.models import StaffRole
from dsr.background import deliver_after_commit
from dsr.dashboard import operations
from dsr.dashboard.forms import ActionForm
from dsr.dashboard.request_views import request_by_reference
from dsr.db import get_session, utcnow
from dsr.delivery import service
from dsr.delivery.forms import DownloadCodeForm, SendReportForm
from dsr.delivery.models import DeliveryMethod, DownloadLink, Report, ReportKind
from dsr.execution.runner import failure_reason, has_executor, run_after_commit
from dsr.extensions import limiter
from dsr.i18n import gettext
from dsr.links import public_url
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status

blueprint = Blueprint("delivery", __name__)

MEDIA_TYPES: Mapping[ReportKind, str] = {
    ReportKind.PDF: "application/pdf",
    ReportKind.ZIP: "application/zip",
}
_OPENED_KEY = "delivery.opened.{link_id}"
RUNNABLE = frozenset({Status.APPROVED, Status.FAILED})
"""Staff can run a request approved (when its run did not start) or failed (a retry)."""


def _per_address_limit() -> str:
    return str(current_app.config["DOWNLOAD_LIMIT_PER_ADDRESS"])


def _codes_per_link_limit() -> str:
    return str(current_app.config["DOWNLOAD_CODES_PER_LINK"])


def _link_key() -> str:
    """Count code emails per download link (by the token's path, not by the visitor)."""
    return "download-link:" + request.path


_per_address = limiter.shared_limit(_per_address_limit, scope="download", methods=["POST"])
_codes_per_link = limiter.limit(_codes_per_link_limit, key_func=_link_key, methods=["POST"])


def _private(response: AnyResponse) -> AnyResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _kind(value: str) -> ReportKind:
    try:
        return ReportKind(value)
    except ValueError:
        abort(404)


# --- staff: the panel of the request page ----------------------------------------------------


@dataclass
class DeliveryPanel:
    """What the request page shows about running and delivering the request."""

    runnable: bool
    failure: str | None = None
    reports: list[Report] = field(default_factory=list)
    link: DownloadLink | None = None
    send_form: SendReportForm | None = None
    retry_form: ActionForm | None = None


def delivery_panel(data_request: DataRequest) -> DeliveryPanel:
    db_session = get_session()
    user = current_staff()
    can_act = user is not None and user.role in operations.WORKING_ROLES
    panel = DeliveryPanel(runnable=has_executor(data_request.type))
    panel.failure = failure_reason(db_session, data_request)
    panel.reports = service.reports_of(db_session, data_request.id)
    panel.link = service.link_of(db_session, data_request.id)
    if can_act and panel.runnable and data_request.status in RUNNABLE:
        panel.retry_form = ActionForm(data={"version_id": str(data_request.version_id)})
    if (
        can_act
        and data_request.status is Status.COMPLETED
        and panel.reports
        and panel.link is None
        and data_request.verified_at is not None
    ):
        panel.send_form = SendReportForm()
    return panel


@blueprint.app_context_processor
def _delivery_globals() -> dict[str, object]:
    return {"delivery_panel": delivery_panel, "MEDIA_TYPES": MEDIA_TYPES}


# --- staff: open, send, run again --------------------------------------------------------------


@blueprint.get("/dashboard/requests/<reference>/reports/<kind>")
def report_file(reference: str, kind: str) -> AnyResponse:
    """Let staff open a report before (or after) it is sent; auditors may read it too."""
    report_kind = _kind(kind)
    user = current_staff()
    if user is None:
        abort(403)
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    report = service.report_of(db_session, data_request.id, report_kind)
    if report is None or not Path(report.path).is_file():
        abort(404)
    service.record_viewed(
        db_session=db_session,
        request=data_request,
        kind=report_kind,
        staff_label=user.email,
        now=utcnow(),
    )
    response = send_file(
        report.path,
        mimetype=MEDIA_TYPES[report_kind],
        as_attachment=report_kind is ReportKind.ZIP,
        download_name=Path(report.path).name,
        max_age=0,
    )
    return _private(response)


@blueprint.post("/dashboard/requests/<reference>/reports/send")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def send_report(reference: str) -> AnyResponse:
    """Send the reports to the requester's verified address; show an encrypted PDF's password
    once, on the next page only."""
    user = current_staff()
    if user is None:
        abort(403)
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    page = redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)
    form = SendReportForm(request.form)
    if not form.validate():
        flash(gettext("Choose how to send the reports."), "error")
        return page
    try:
        sent = service.send_reports(
            db_session=db_session,
            request=data_request,
            staff_label=user.email,
            method=DeliveryMethod(form.method.data),
            now=utcnow(),
            delivery_days=int(current_app.config["DELIVERY_DAYS"]),
            download_url=lambda token: public_url("delivery.download_page", token=token),
        )
    except service.DeliveryRefused as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return page
    deliver_after_commit(db_session)
    flash(gettext("The requester was sent the link to their reports."))
    if sent.password is not None:
        flash(
            gettext(
                "Password of the encrypted PDF, shown this once: %(password)s. Give it to the "
                "requester by another channel than email (phone, post).",
                password=sent.password,
            ),
            "password",
        )
    return page


@blueprint.post("/dashboard/requests/<reference>/run")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def run_again(reference: str) -> AnyResponse:
    """Run an approved or failed request (from scratch) once this page's transaction commits."""
    user = current_staff()
    if user is None:
        abort(403)
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    page = redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)
    form = ActionForm(request.form)
    if not form.validate() or form.version != data_request.version_id:
        flash(
            gettext(
                "This request changed meanwhile (someone else acted on it): nothing was done. "
                "Check its new state below before acting again."
            ),
            "error",
        )
        return page
    if data_request.status not in RUNNABLE or not has_executor(data_request.type):
        flash(gettext("Not done: only an approved or failed request can be run."), "error")
        return page
    run_after_commit(db_session, request=data_request, staff_label=user.email)
    flash(gettext("The request was run: its new status is below."))
    return page


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
        return _private(Response(page, status=410))
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
                return _private(redirect(url_for("delivery.download_page", token=token), 303))
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
    return _private(Response(page, status=code))


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
    return _private(redirect(url_for("delivery.download_page", token=token), 303))


@blueprint.get("/download/<token>/files/<kind>")
@public_endpoint
def download_file(token: str, kind: str) -> AnyResponse:
    """Serve one file to a requester who gave the code, while downloads are left."""
    report_kind = _kind(kind)
    now = utcnow()
    opened = _open_link(token, now)
    if not isinstance(opened, _Opened):
        return opened
    if not _is_opened(opened.link, now):
        return _private(redirect(url_for("delivery.download_page", token=token), 303))
    db_session = get_session()
    try:
        report = service.take_download(
            db_session=db_session, link=opened.link, kind=report_kind, now=now
        )
    except service.DeliveryRefused:
        db_session.rollback()
        page = render_template("delivery/gone.html", exhausted=True)
        return _private(Response(page, status=410))
    response = send_file(
        report.path,
        mimetype=MEDIA_TYPES[report_kind],
        as_attachment=True,
        download_name=Path(report.path).name,
        max_age=0,
    )
    return _private(response)
