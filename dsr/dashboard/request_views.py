"""A request's page, gathered by `request_page.gather_request_page` and then rendered, and the
actions the workflow allows on it, each a POST form carrying the request's version (optimistic
locking). The actions on its reports and changes are in `request_actions`.

URLs name requests by their public reference, never by the requester's address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlmodel import Session
from werkzeug.wrappers import Response as AnyResponse
from wtforms import Form

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole, StaffUser
from dsr.dashboard import forms as action_forms
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.queue import Urgency
from dsr.dashboard.request_page import OFFERED_BY_NAME, RequestPage, gather_request_page
from dsr.db import get_session, utcnow
from dsr.i18n import gettext
from dsr.requests import assignment, notes, staff_actions
from dsr.requests.links import current_links
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused, RequestChanged, WaitsForAnotherPart
from dsr.requests.status import get_by_reference
from dsr.requests.workflow import WorkflowError
from dsr.worker.enqueue import deliver_after_commit, run_after_approval

FormT = TypeVar("FormT", bound=Form)


def request_by_reference(db_session: Session, reference: str) -> DataRequest:
    """Return the request with `reference`, or answer 404."""
    found = get_by_reference(db_session, reference)
    if found is None:
        abort(404)
    return found


def _staff_label(user: StaffUser) -> str:
    return user.email


def _render(
    data_request: DataRequest,
    *,
    bound: tuple[str, Form] | None = None,
    code: int = 200,
) -> AnyResponse:
    return Response(
        render_request_page(gather_request_page(data_request, bound=bound)), status=code
    )


def render_request_page(page: RequestPage) -> str:
    """Render a gathered request page; this reads no database."""
    return render_template("dashboard/request.html", page=page, Urgency=Urgency)


@blueprint.get("/requests/<reference>")
def request_page(reference: str) -> AnyResponse:
    """Show one request with its history, its subject's data and what can be done now; with
    `?template=<id>`, the form that answer template fits shows its text (nothing is sent)."""
    data_request = request_by_reference(get_session(), reference)
    chosen = request.args.get("template")
    if chosen is None:
        return _render(data_request)
    page = None
    if chosen.isascii() and chosen.isdigit() and len(chosen) < 10:
        page = gather_request_page(data_request, template_id=int(chosen))
    if page is None or page.chosen_template is None:
        abort(404, description=gettext("This answer template does not fit this request."))
    return Response(render_request_page(page))


Handler = Callable[[Session, DataRequest, Form, str], None]


def _as(form_class: type[FormT], form: Form) -> FormT:
    """Return `form` as the form class its action posts (they are paired in OFFERED_ACTIONS)."""
    if not isinstance(form, form_class):
        raise TypeError(f"expected a {form_class.__name__}, got a {type(form).__name__}")
    return form


def _handlers() -> dict[str, Handler]:
    now = utcnow()

    def verify(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.VerifyForm, form)
        staff_actions.verify_by_hand(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            reason=form.reason.data or "",
            now=now,
            links=current_links(),
        )

    def review(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.ActionForm, form)
        staff_actions.start_review(
            db_session=db, request=r, version_id=form.version, staff_label=who, now=now
        )

    def ask(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.AskForm, form)
        staff_actions.ask_requester(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            question=form.question.data or "",
            now=now,
            links=current_links(),
        )

    def identity(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.IdentityDocumentForm, form)
        staff_actions.ask_for_identity_document(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            reason=form.reason.data or "",
            now=now,
            links=current_links(),
        )

    def resume(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.ResumeForm, form)
        staff_actions.resume_review(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            answer=form.reason.data or "",
            now=now,
        )

    def approve(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.ActionForm, form)
        staff_actions.approve(
            db_session=db, request=r, version_id=form.version, staff_label=who, now=now
        )
        run_after_approval(db, request=r)  # access, erasure...: carried out once approved

    def deny(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.DenyForm, form)
        staff_actions.deny(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            reason=form.reason.data or "",
            now=now,
        )

    def extend(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.ExtendForm, form)
        staff_actions.extend(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            months=int(form.months.data or 0),
            ground=form.ground.data or "",
            reason=form.reason.data or "",
            now=now,
        )

    def assign(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.AssignForm, form)
        assignment.assign(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            assignee_id=form.assignee_id,
            now=now,
        )

    def note(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(action_forms.NoteForm, form)
        notes.add_note(
            db_session=db, request=r, staff_label=who, note=form.note.data or "", now=now
        )

    return {
        "verify": verify,
        "review": review,
        "ask": ask,
        "identity": identity,
        "resume": resume,
        "approve": approve,
        "deny": deny,
        "extend": extend,
        "assign": assign,
        "note": note,
    }


def _done_message(name: str) -> str:
    messages = {
        "verify": gettext(
            "The address is marked as verified; the requester was sent their status link."
        ),
        "review": gettext("The request is in review."),
        "ask": gettext(
            "The question was sent; the deadline is paused until the requester answers."
        ),
        "identity": gettext("The identity document was asked for; the deadline is paused."),
        "resume": gettext("The answer is recorded and the review resumes."),
        "approve": gettext("The request is approved."),
        "deny": gettext(
            "The request is refused; the requester was sent the reasons and their rights."
        ),
        "extend": gettext("The deadline is extended; the requester was told why."),
        "assign": gettext("The assignment is saved."),
        "note": gettext("The note is added."),
    }
    return messages[name]


def _changed_meanwhile() -> str:
    return gettext(
        "This request changed meanwhile (someone else acted on it): nothing was done. Check "
        "its new state below before acting again."
    )


@blueprint.post("/requests/<reference>/<action>")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def act(reference: str, action: str) -> AnyResponse:
    """Take one action on the request: refused with a message when the workflow forbids it in
    the request's state, or when the request changed since the page was shown."""
    offered = OFFERED_BY_NAME.get(action)
    if offered is None:
        abort(404)
    user = current_staff()
    if user is None:
        abort(403)
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    page = redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)
    form: Form
    if offered.form_class is action_forms.AssignForm:
        form = action_forms.AssignForm(
            request.form, staff=assignment.assignable_staff(db_session=db_session)
        )
    else:
        form = offered.form_class(request.form)
    if not form.validate():
        version = form.version if isinstance(form, action_forms.ActionForm) else None
        if version is not None and version != data_request.version_id:
            flash(_changed_meanwhile(), "error")
            return page
        return _render(data_request, bound=(offered.name, form), code=400)
    try:
        _handlers()[offered.name](db_session, data_request, form, _staff_label(user))
    except RequestChanged:
        db_session.rollback()
        flash(_changed_meanwhile(), "error")
        return page
    except WaitsForAnotherPart as error:  # several things in one request (issue 19)
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return _render(data_request, code=409)
    except (WorkflowError, OperationRefused) as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.said(gettext)), "error")
        return page
    deliver_after_commit(db_session)
    flash(_done_message(offered.name))
    return page
