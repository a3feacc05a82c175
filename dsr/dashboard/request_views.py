"""A request's page: its facts and deadline, its audit timeline, the requester's earlier requests
(R7), the data found for the subject once the address is verified, and the actions the workflow
allows now, each a POST form carrying the request's version (optimistic locking).

URLs name requests by their public reference, never by the requester's address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import flask_babel  # type: ignore[import-untyped]
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from sqlmodel import Session, col, select
from werkzeug.wrappers import Response as AnyResponse
from wtforms import Form

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole, StaffUser
from dsr.audit.models import RequestEvent
from dsr.background import deliver_after_commit
from dsr.dashboard import operations
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.forms import (
    ActionForm,
    AskForm,
    AssignForm,
    DenyForm,
    ExtendForm,
    IdentityDocumentForm,
    NoteForm,
    ResumeForm,
    VerifyForm,
)
from dsr.dashboard.queue import Urgency, due_as_of, urgency_of
from dsr.datamap import desk_map, open_systems
from dsr.db import get_session, utcnow
from dsr.execution.runner import run_after_approval
from dsr.i18n import current_language, gettext, lazy_gettext
from dsr.links import public_url
from dsr.requests.models import DataRequest
from dsr.requests.service import LinkSigner
from dsr.requests.workflow import Action, Actor, WorkflowError, available_actions
from inventory.locator import category_counts, locate_subject
from inventory.model import IdentityKind
from inventory.systems import SystemUnavailable

EARLIER_REQUESTS_SHOWN = 20
FormT = TypeVar("FormT", bound=Form)

ACTION_TITLES: Mapping[str, str] = {
    "verify": lazy_gettext("Verify the address by hand"),
    "review": lazy_gettext("Start the review"),
    "ask": lazy_gettext("Ask the requester for information"),
    "identity": lazy_gettext("Ask for an identity document"),
    "resume": lazy_gettext("Record the requester's answer"),
    "approve": lazy_gettext("Approve"),
    "deny": lazy_gettext("Refuse"),
    "extend": lazy_gettext("Extend the deadline"),
    "assign": lazy_gettext("Assign"),
    "note": lazy_gettext("Add an internal note"),
}
"""The title and button of each action form."""

EVENT_LABELS: Mapping[str, str] = {
    "submitted": lazy_gettext("Request filed"),
    "resubmitted": lazy_gettext("Filed again by the requester"),
    "verification_link_renewed": lazy_gettext("New verification link sent"),
    Action.VERIFY_EMAIL.value: lazy_gettext("Address verified"),
    Action.EXPIRE.value: lazy_gettext("Expired, never verified"),
    Action.START_REVIEW.value: lazy_gettext("Review started"),
    Action.ASK_REQUESTER.value: lazy_gettext("Requester asked for information"),
    Action.REQUESTER_ANSWERED.value: lazy_gettext("Requester answered"),
    Action.APPROVE.value: lazy_gettext("Approved"),
    Action.DENY.value: lazy_gettext("Refused"),
    Action.START_PROCESSING.value: lazy_gettext("Processing started"),
    Action.COMPLETE.value: lazy_gettext("Completed"),
    Action.FAIL.value: lazy_gettext("Failed"),
    Action.CANCEL.value: lazy_gettext("Cancelled"),
    Action.EXTEND.value: lazy_gettext("Deadline extended"),
    operations.NOTE_ACTION: lazy_gettext("Internal note"),
    operations.ASSIGN_ACTION: lazy_gettext("Assigned"),
}
"""What each audited action is called on the timeline; others are shown by their name."""


def event_label(action: str) -> str:
    return EVENT_LABELS.get(action) or action.replace("_", " ")


def shown_moment(moment: datetime) -> str:
    """Return the date and time of `moment` in the shown time zone, in the current locale."""
    return str(flask_babel.format_datetime(moment, format="short", rebase=True))


@dataclass(frozen=True, slots=True)
class OfferedAction:
    """One action of a request's page: its URL name, the workflow action that allows it (None:
    always allowed to staff who work requests) and its form."""

    name: str
    action: Action | None
    form_class: type[ActionForm]


OFFERED_ACTIONS: tuple[OfferedAction, ...] = (
    OfferedAction("verify", Action.VERIFY_EMAIL, VerifyForm),
    OfferedAction("review", Action.START_REVIEW, ActionForm),
    OfferedAction("ask", Action.ASK_REQUESTER, AskForm),
    OfferedAction("identity", Action.ASK_REQUESTER, IdentityDocumentForm),
    OfferedAction("resume", Action.REQUESTER_ANSWERED, ResumeForm),
    OfferedAction("approve", Action.APPROVE, ActionForm),
    OfferedAction("deny", Action.DENY, DenyForm),
    OfferedAction("extend", Action.EXTEND, ExtendForm),
    OfferedAction("assign", None, AssignForm),
    OfferedAction("note", None, NoteForm),
)
OFFERED_BY_NAME: Mapping[str, OfferedAction] = {
    offered.name: offered for offered in OFFERED_ACTIONS
}


@dataclass
class SubjectData:
    """What the locator found for the subject, or why it could not look."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    checked: bool = False
    problem: str | None = None
    flags: list[str] = field(default_factory=list)


def request_by_reference(db_session: Session, reference: str) -> DataRequest:
    """Return the request with `reference`, or answer 404."""
    found = db_session.exec(
        select(DataRequest).where(DataRequest.reference == reference.upper())
    ).one_or_none()
    if found is None:
        abort(404)
    return found


def timeline(db_session: Session, data_request: DataRequest) -> list[RequestEvent]:
    """Return the request's audit events, oldest first."""
    return list(
        db_session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == data_request.id)
            .order_by(col(RequestEvent.sequence))
        ).all()
    )


def earlier_requests(db_session: Session, data_request: DataRequest) -> list[DataRequest]:
    """Return the other requests from the same address, newest first (R7: repeated requests)."""
    return list(
        db_session.exec(
            select(DataRequest)
            .where(
                DataRequest.normalized_email == data_request.normalized_email,
                DataRequest.id != data_request.id,
            )
            .order_by(col(DataRequest.received_at).desc(), col(DataRequest.id).desc())
            .limit(EARLIER_REQUESTS_SHOWN)
        ).all()
    )


def subject_data(data_request: DataRequest) -> SubjectData:
    """Locate the subject by their verified address in every system of the map; a system that
    cannot be read is reported, not raised."""
    if data_request.verified_at is None:
        return SubjectData()
    data_map = desk_map(current_app.config)
    identity = next(
        (name for name, spec in data_map.identities.items() if spec.kind is IdentityKind.EMAIL),
        None,
    )
    if identity is None:
        return SubjectData(problem=gettext("The data map declares no email identity."))
    with open_systems(current_app.config, data_map).opened() as systems:
        try:
            location = locate_subject(data_map, systems, identity, data_request.requester_email)
        except SystemUnavailable as error:
            return SubjectData(
                checked=True,
                problem=gettext(
                    "The system %(system)s could not be read (%(reason)s): the data found "
                    "cannot be shown now. Try again later.",
                    system=error.system,
                    reason=error.reason,
                ),
            )
    return SubjectData(
        counts=category_counts(data_map, location),
        checked=True,
        flags=[flag.message for flag in location.flags],
    )


def _staff_label(user: StaffUser) -> str:
    return user.email


def _can_act(user: StaffUser | None) -> bool:
    return user is not None and user.role in operations.WORKING_ROLES


def _links() -> LinkSigner:
    hours = int(current_app.config["VERIFICATION_LINK_MAX_AGE_HOURS"])
    return LinkSigner(
        str(current_app.config["SECRET_KEY"]),
        max_age=timedelta(hours=hours),
        verify_url=lambda token: public_url("public.verify", token=token),
        status_url=lambda token: public_url("public.status", token=token),
    )


def _offered(data_request: DataRequest) -> list[OfferedAction]:
    allowed = set(available_actions(data_request.status, Actor.STAFF))
    return [
        offered
        for offered in OFFERED_ACTIONS
        if offered.action is None or offered.action in allowed
    ]


def _render(
    data_request: DataRequest,
    *,
    bound: tuple[str, Form] | None = None,
    code: int = 200,
) -> AnyResponse:
    db_session = get_session()
    user = current_staff()
    now = utcnow()
    due = due_as_of(data_request.due_at, data_request.paused_since, now)
    days_left, urgency = urgency_of(data_request.status, due, now)
    staff = operations.assignable_staff(db_session=db_session)
    forms: dict[str, Form] = {}
    if _can_act(user):
        for offered in _offered(data_request):
            if offered.form_class is AssignForm:
                form: Form = AssignForm(
                    staff=staff,
                    data={
                        "version_id": str(data_request.version_id),
                        "assignee": str(data_request.assignee_id or ""),
                    },
                )
            else:
                form = offered.form_class(data={"version_id": str(data_request.version_id)})
            forms[offered.name] = form
        if bound is not None and bound[0] in forms:
            forms[bound[0]] = bound[1]
    page = render_template(
        "dashboard/request.html",
        data_request=data_request,
        due=due,
        days_left=days_left,
        urgency=urgency,
        Urgency=Urgency,
        events=timeline(db_session, data_request),
        earlier=earlier_requests(db_session, data_request),
        subject=subject_data(data_request),
        data_map=desk_map(current_app.config),
        language=current_language().value,
        forms=forms,
        staff_names=dict(staff),
        can_act=_can_act(user),
        action_titles=ACTION_TITLES,
        event_label=event_label,
        shown_moment=shown_moment,
    )
    return Response(page, status=code)


@blueprint.get("/requests/<reference>")
def request_page(reference: str) -> AnyResponse:
    """Show one request with its history, its subject's data and what can be done now."""
    return _render(request_by_reference(get_session(), reference))


Handler = Callable[[Session, DataRequest, Form, str], None]


def _as(form_class: type[FormT], form: Form) -> FormT:
    """Return `form` as the form class its action posts (they are paired in OFFERED_ACTIONS)."""
    if not isinstance(form, form_class):
        raise TypeError(f"expected a {form_class.__name__}, got a {type(form).__name__}")
    return form


def _handlers() -> dict[str, Handler]:
    now = utcnow()

    def verify(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(VerifyForm, form)
        operations.verify_by_hand(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            reason=form.reason.data or "",
            now=now,
            links=_links(),
        )

    def review(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(ActionForm, form)
        operations.start_review(
            db_session=db, request=r, version_id=form.version, staff_label=who, now=now
        )

    def ask(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(AskForm, form)
        operations.ask_requester(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            question=form.question.data or "",
            now=now,
            links=_links(),
        )

    def identity(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(IdentityDocumentForm, form)
        operations.ask_for_identity_document(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            reason=form.reason.data or "",
            now=now,
            links=_links(),
        )

    def resume(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(ResumeForm, form)
        operations.resume_review(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            answer=form.reason.data or "",
            now=now,
        )

    def approve(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(ActionForm, form)
        operations.approve(
            db_session=db, request=r, version_id=form.version, staff_label=who, now=now
        )
        run_after_approval(db, request=r)  # access, erasure...: carried out once approved

    def deny(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(DenyForm, form)
        operations.deny(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            reason=form.reason.data or "",
            now=now,
        )

    def extend(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(ExtendForm, form)
        operations.extend(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            months=int(form.months.data or 0),
            reason=form.reason.data or "",
            now=now,
        )

    def assign(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(AssignForm, form)
        operations.assign(
            db_session=db,
            request=r,
            version_id=form.version,
            staff_label=who,
            assignee_id=form.assignee_id,
            now=now,
        )

    def note(db: Session, r: DataRequest, form: Form, who: str) -> None:
        form = _as(NoteForm, form)
        operations.add_note(
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
    if offered.form_class is AssignForm:
        form = AssignForm(request.form, staff=operations.assignable_staff(db_session=db_session))
    else:
        form = offered.form_class(request.form)
    if not form.validate():
        version = form.version if isinstance(form, ActionForm) else None
        if version is not None and version != data_request.version_id:
            flash(_changed_meanwhile(), "error")
            return page
        return _render(data_request, bound=(offered.name, form), code=400)
    try:
        _handlers()[offered.name](db_session, data_request, form, _staff_label(user))
    except operations.RequestChanged:
        db_session.rollback()
        flash(_changed_meanwhile(), "error")
        return page
    except (WorkflowError, operations.OperationRefused) as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return page
    deliver_after_commit(db_session)
    flash(_done_message(offered.name))
    return page
