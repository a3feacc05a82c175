"""The actions of a request's page on what its run produced and changes: open its reports and its
erasure certificate, send the reports, run it (again), keep a rectification's new values,
reactivate an account, announce and lift a restriction.

Routes are staff-only (the guard's default); those that change something are for the roles that
work requests. Each POST answers with the request's page (PRG) and a flash saying what was done.
Importing `dsr.execution.changes` and `erasure` registers their executors too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from sqlmodel import select
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import acting_staff_label, staff_required
from dsr.accounts.models import StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.forms import ActionForm, ReasonForm, RectificationForm, SendReportForm
from dsr.dashboard.request_panels import RUNNABLE
from dsr.dashboard.request_views import request_by_reference
from dsr.datamap import desk_map
from dsr.db import get_session, utcnow
from dsr.delivery import service
from dsr.delivery.models import DeliveryMethod, ReportKind
from dsr.delivery.views import MEDIA_TYPES, private_response, report_kind_of
from dsr.execution import changes, erasure  # noqa: F401  (erasure registers its executor)
from dsr.execution.change_records import ErasureCertificate
from dsr.execution.runner import app_settings, has_executor
from dsr.execution.targets import ChangeRefused
from dsr.i18n import gettext
from dsr.links import public_url
from dsr.requests import answers
from dsr.requests.models import DataRequest
from dsr.worker.enqueue import deliver_after_commit, run_after_commit
from inventory.systems import SystemUnavailable


def _page(data_request: DataRequest) -> AnyResponse:
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)


def _not_done(reason: str) -> None:
    flash(gettext("Not done: %(reason)s", reason=reason), "error")


def _settings() -> dict[str, object]:
    return app_settings(current_app.config, current_app.instance_path)


# --- reports: open, send, run again -------------------------------------------------------------


@blueprint.get("/requests/<reference>/reports/<kind>")
def report_file(reference: str, kind: str) -> AnyResponse:
    """Let staff open a report before (or after) it is sent; auditors may read it too."""
    report_kind = report_kind_of(kind)
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    report = service.report_of(db_session, data_request.id, report_kind)
    if report is None or not Path(report.path).is_file():
        abort(404)
    service.record_viewed(
        db_session=db_session,
        request=data_request,
        kind=report_kind,
        staff_label=who,
        now=utcnow(),
    )
    response = send_file(
        report.path,
        mimetype=MEDIA_TYPES[report_kind],
        as_attachment=report_kind is not ReportKind.PDF,
        download_name=Path(report.path).name,
        max_age=0,
    )
    return private_response(response)


@blueprint.post("/requests/<reference>/reports/send")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def send_report(reference: str) -> AnyResponse:
    """Send the reports to the requester's verified address; show an encrypted PDF's password
    once, on the next page only."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = SendReportForm(request.form)
    if not form.validate():
        flash(gettext("Choose how to send the reports."), "error")
        return _page(data_request)
    try:
        sent = service.send_reports(
            db_session=db_session,
            request=data_request,
            staff_label=who,
            method=DeliveryMethod(form.method.data),
            now=utcnow(),
            delivery_days=int(current_app.config["DELIVERY_DAYS"]),
            download_url=lambda token: public_url("delivery.download_page", token=token),
        )
    except service.DeliveryRefused as error:
        db_session.rollback()
        _not_done(error.message)
        return _page(data_request)
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
    return _page(data_request)


@blueprint.post("/requests/<reference>/run")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def run_again(reference: str) -> AnyResponse:
    """Run an approved or failed request (from scratch) once this page's transaction commits."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = ActionForm(request.form)
    if not form.validate() or form.version != data_request.version_id:
        flash(
            gettext(
                "This request changed meanwhile (someone else acted on it): nothing was done. "
                "Check its new state below before acting again."
            ),
            "error",
        )
        return _page(data_request)
    if data_request.status not in RUNNABLE or not has_executor(data_request.type):
        flash(gettext("Not done: only an approved or failed request can be run."), "error")
        return _page(data_request)
    run_after_commit(db_session, request=data_request, staff_label=who)
    flash(gettext("The request was handed to a worker: its progress is below."))
    return _page(data_request)


@blueprint.post("/requests/<reference>/answer/again")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def send_answer_again(reference: str) -> AnyResponse:
    """Queue again an answer email that failed for good; the request completes once it arrives."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    if not ActionForm(request.form).validate():
        abort(400)
    try:
        answers.send_answer_again(
            db_session=db_session, request=data_request, staff_label=who, now=utcnow()
        )
    except answers.AnswerRefused as error:
        db_session.rollback()
        _not_done(error.message)
        return _page(data_request)
    deliver_after_commit(db_session)
    flash(gettext("The answer email is queued again: the request completes once it arrives."))
    return _page(data_request)


# --- changes: certificate, rectification, reversals ---------------------------------------------


@blueprint.get("/requests/<reference>/certificate")
def certificate_file(reference: str) -> AnyResponse:
    """Let staff open the erasure certificate sent to the requester."""
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    certificate = db_session.exec(
        select(ErasureCertificate).where(ErasureCertificate.request_id == data_request.id)
    ).one_or_none()
    if certificate is None or not Path(certificate.path).is_file():
        abort(404)
    response = send_file(certificate.path, mimetype="application/pdf", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


def _change(
    data_request: DataRequest, change: Callable[[], str], *, deliver: bool = False
) -> AnyResponse:
    """Make `change` (which returns what to tell staff) and show the request's page again; a
    refusal or a system that cannot be reached undoes it and says why. `deliver`: send the
    emails it queued once it commits."""
    db_session = get_session()
    try:
        done = change()
    except ChangeRefused as error:
        db_session.rollback()
        _not_done(error.message)
        return _page(data_request)
    except SystemUnavailable as error:
        db_session.rollback()
        _not_done(str(error))
        return _page(data_request)
    if deliver:
        deliver_after_commit(db_session)
    flash(done)
    return _page(data_request)


@blueprint.post("/requests/<reference>/rectification")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def save_rectification(reference: str) -> AnyResponse:
    """Keep the new values staff approved for each rectifiable field (empty: not corrected)."""
    who = acting_staff_label()
    data_request = request_by_reference(get_session(), reference)
    data_map = desk_map(current_app.config)
    form = RectificationForm.for_fields(
        dict.fromkeys(changes.rectifiable_fields(data_map), ""), request.form
    )

    def save() -> str:
        count = changes.save_rectification_values(
            db_session=get_session(),
            request=data_request,
            data_map=data_map,
            values=form.values(),
            staff_label=who,
            now=utcnow(),
        )
        return gettext("%(count)d new value(s) approved.", count=count)

    return _change(data_request, save)


def _change_subject(
    reference: str,
    apply: Callable[..., object],
    done: str,
    *,
    with_reason: bool = False,
    deliver: bool = False,
) -> AnyResponse:
    """Make one of `changes`' targeted changes on the request's subject (`apply`), with the
    reason staff gave in a `ReasonForm` when `with_reason`."""
    who = acting_staff_label()
    data_request = request_by_reference(get_session(), reference)
    given = {"reason": ReasonForm(request.form).reason.data or ""} if with_reason else {}

    def change() -> str:
        apply(
            db_session=get_session(),
            request=data_request,
            settings=_settings(),
            staff_label=who,
            now=utcnow(),
            **given,
        )
        return done

    return _change(data_request, change, deliver=deliver)


@blueprint.post("/requests/<reference>/reactivate")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def reactivate_account(reference: str) -> AnyResponse:
    """Give a deactivated account back, at the person's request."""
    done = gettext("The account is active again; the person was told.")
    return _change_subject(reference, changes.reactivate, done, with_reason=True, deliver=True)


@blueprint.post("/requests/<reference>/restriction/announce")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def announce_restriction_lift(reference: str) -> AnyResponse:
    """Tell the person, with the reason, that their restriction will be lifted."""
    done = gettext("The person was told that the restriction will be lifted.")
    return _change_subject(
        reference, changes.announce_restriction_lift, done, with_reason=True, deliver=True
    )


@blueprint.post("/requests/<reference>/restriction/lift")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def lift_restriction(reference: str) -> AnyResponse:
    """Lift a restriction the person was told about beforehand."""
    done = gettext("The restriction is lifted.")
    return _change_subject(reference, changes.lift_restriction, done)
