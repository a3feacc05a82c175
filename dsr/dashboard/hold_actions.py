"""The actions of a request's page on its legal holds: place one (categories, the claim, the last
day) and lift one early with a reason. Staff who work requests only; a bad form or a refusal
shows the page again with the errors (400) and stores nothing; success redirects (PRG)."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import acting_staff_label, staff_required
from dsr.accounts.models import StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.forms import HoldForm, LiftHoldForm
from dsr.dashboard.hold_panel import category_choices
from dsr.dashboard.request_page import gather_request_page
from dsr.dashboard.request_views import render_request_page, request_by_reference
from dsr.datamap import desk_map
from dsr.db import get_session, utcnow
from dsr.execution.targets import ChangeRefused
from dsr.holds import service
from dsr.i18n import current_language, gettext
from dsr.requests.models import DataRequest


def _again(data_request: DataRequest, form: HoldForm | LiftHoldForm) -> AnyResponse:
    get_session().rollback()
    page = gather_request_page(data_request, bound=("hold", form))
    return Response(render_request_page(page), status=400)


@blueprint.post("/requests/<reference>/holds")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def place_hold(reference: str) -> AnyResponse:
    """Keep categories of the person's data for a legal claim until a date."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    data_map = desk_map(current_app.config)
    form = HoldForm(request.form, categories=category_choices(data_map, current_language().value))
    if not form.validate():
        return _again(data_request, form)
    try:
        service.place_hold(
            db_session=db_session,
            request=data_request,
            data_map=data_map,
            categories=list(form.categories.data or []),
            reason=form.reason.data or "",
            ends_on=form.ends_on.data,
            staff_label=who,
            now=utcnow(),
        )
    except ChangeRefused as error:
        form.form_errors.append(gettext("Not done: %(reason)s", reason=error.message))
        return _again(data_request, form)
    flash(gettext("The data is held for the legal claim until the date given."))
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)


@blueprint.post("/requests/<reference>/holds/lift")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def lift_hold(reference: str) -> AnyResponse:
    """End a hold before its date; what it kept is then released like an ended hold."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = LiftHoldForm(request.form)
    if not form.validate():
        return _again(data_request, form)
    try:
        service.lift_hold(
            db_session=db_session,
            request=data_request,
            hold_id=form.hold,
            reason=form.reason.data or "",
            staff_label=who,
            now=utcnow(),
        )
    except ChangeRefused as error:
        form.form_errors.append(gettext("Not done: %(reason)s", reason=error.message))
        return _again(data_request, form)
    flash(gettext("The hold is lifted: what it kept is released at the next run of the jobs."))
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)
