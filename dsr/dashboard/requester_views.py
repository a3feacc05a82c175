"""The actions of a request's page about who asks and for whom (R45, R46): record the check of
a representative's proof, say whom the request is for, record the check of an identity document
(whose content is then deleted), add or remove another identity of the person.

For the roles that work requests. A bad form or a refusal shows the page again with the message
(400) and changes nothing; success redirects (PRG) with a flash saying what was done.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response as AnyResponse
from wtforms import Form

from dsr.accounts.access import acting_staff_label, staff_required
from dsr.accounts.models import StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.request_page import gather_request_page
from dsr.dashboard.request_views import render_request_page, request_by_reference
from dsr.dashboard.requester_forms import (
    AddIdentityForm,
    IdentityCheckForm,
    ProofCheckForm,
    RepresentationForm,
)
from dsr.datamap import desk_map
from dsr.db import get_session, utcnow
from dsr.i18n import gettext
from dsr.requests import identities, identity_check, representation
from dsr.requests.models import DataRequest, RequesterRole
from dsr.requests.refusals import OperationRefused, RequestChanged
from dsr.worker.enqueue import deliver_after_commit

BOUND = "requester"
"""The name under which a form of this panel, posted with errors, goes back to the page."""


def _again(data_request: DataRequest, form: Form, message: str | None = None) -> AnyResponse:
    get_session().rollback()
    if message is not None:
        form.form_errors.append(message)
    page = gather_request_page(data_request, bound=(BOUND, form))
    return Response(render_request_page(page), status=400)


def _page(data_request: DataRequest) -> AnyResponse:
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)


@blueprint.post("/requests/<reference>/proof-check")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def check_proof(reference: str) -> AnyResponse:
    """Record the check of the proof that the requester may act for the person (R45)."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = ProofCheckForm(request.form)
    if not form.validate():
        return _again(data_request, form)
    try:
        representation.record_proof_check(
            db_session=db_session,
            request=data_request,
            accepted=form.outcome.data == "accepted",
            reason=form.reason.data or "",
            staff_label=who,
            now=utcnow(),
        )
    except OperationRefused as refused:
        return _again(data_request, form, refused.said(gettext))
    flash(gettext("The check of the proof is recorded."))
    return _page(data_request)


@blueprint.post("/requests/<reference>/for-whom")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def set_for_whom(reference: str) -> AnyResponse:
    """Say whom the request is made for: the requester, or a person they represent (R45)."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = RepresentationForm(request.form)
    if not form.validate():
        return _again(data_request, form)
    try:
        representation.set_representation(
            db_session=db_session,
            request=data_request,
            role=RequesterRole(form.role.data),
            subject_email=form.subject_email.data or "",
            subject_name=form.subject_name.data or "",
            staff_label=who,
            now=utcnow(),
        )
    except OperationRefused as refused:
        return _again(data_request, form, refused.said(gettext))
    flash(gettext("Whom the request is for is saved; the proof is to be checked."))
    return _page(data_request)


@blueprint.post("/requests/<reference>/identity-check")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def check_identity(reference: str) -> AnyResponse:
    """Record the identity check: the review resumes, or the request is refused; every identity
    document of the request is deleted in the same transaction (R46)."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = IdentityCheckForm(request.form)
    if not form.validate():
        return _again(data_request, form)
    try:
        identity_check.record_identity_check(
            db_session=db_session,
            request=data_request,
            version_id=form.version,
            confirmed=form.outcome.data == "confirmed",
            note=form.note.data or "",
            staff_label=who,
            now=utcnow(),
        )
    except RequestChanged:
        return _again(
            data_request,
            form,
            gettext("This request changed meanwhile (someone else acted on it): nothing was done."),
        )
    except OperationRefused as refused:
        return _again(data_request, form, refused.said(gettext))
    deliver_after_commit(db_session)
    flash(gettext("The identity check is recorded and the identity document deleted."))
    return _page(data_request)


@blueprint.post("/requests/<reference>/identities")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def add_identity(reference: str) -> AnyResponse:
    """Add another identity of the person, with how it was proven: the locator uses it too."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    data_map = desk_map(current_app.config)
    form = AddIdentityForm(request.form, identities=list(identities.addable_identities(data_map)))
    if not form.validate():
        return _again(data_request, form)
    try:
        identities.add_identity(
            db_session=db_session,
            data_map=data_map,
            request=data_request,
            identity=form.identity.data or "",
            value=form.value.data or "",
            proof=form.proof.data or "",
            staff_label=who,
            now=utcnow(),
        )
    except OperationRefused as refused:
        return _again(data_request, form, refused.said(gettext))
    flash(gettext("The identity is added: the person's data is found under it too."))
    return _page(data_request)


@blueprint.post("/requests/<reference>/identities/<int:identity_id>/remove")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def remove_identity(reference: str, identity_id: int) -> AnyResponse:
    """Remove an identity added by mistake (audited)."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    if not identities.remove_identity(
        db_session=db_session,
        request=data_request,
        identity_id=identity_id,
        staff_label=who,
        now=utcnow(),
    ):
        abort(404)
    flash(gettext("The identity is removed from the request."))
    return _page(data_request)
