"""The request page's panel of changes: the erasure plan before approval (per system, table and
category: rows, action, new values, what is kept and why), what each system's run did, the
certificate; the new values of a rectification, entered by staff before approval; reactivation of
a deactivated account and lifting of a restriction, at the person's request.

Routes are staff-only (the guard's default); those that change something are for the roles that
work requests. Importing this module registers the erasure and change executors too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from sqlmodel import select
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.background import deliver_after_commit
from dsr.dashboard import operations
from dsr.dashboard.request_views import request_by_reference
from dsr.datamap import desk_map, open_systems
from dsr.db import get_session, utcnow
from dsr.execution import changes, erasure
from dsr.execution.change_records import ErasureCertificate, ErasureSystemRun
from dsr.execution.runner import app_settings
from dsr.execution.targets import ChangeRefused
from dsr.i18n import gettext
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, RequestType, Status
from inventory.erasure import ErasurePlan
from inventory.systems import SystemUnavailable

blueprint = Blueprint("changes", __name__)

FIELD_PREFIX = "value:"
"""Form fields of a rectification are named `value:<system>:<table.column>`."""


@dataclass(frozen=True, slots=True)
class RectifiableField:
    system: str
    column: str
    category: str
    label: str
    value: str

    @property
    def form_name(self) -> str:
        return f"{FIELD_PREFIX}{self.system}:{self.column}"


@dataclass
class ChangesPanel:
    """What the request page shows about the changes a request makes to the systems."""

    plan: ErasurePlan | None = None
    plan_problem: str | None = None
    runs: list[ErasureSystemRun] = field(default_factory=list)
    certificate: bool = False
    rectifiable: list[RectifiableField] = field(default_factory=list)
    rectification_open: bool = False
    can_act: bool = False
    reactivable: bool = False
    reactivated: bool = False
    restriction_lift_announced: bool = False
    restriction_lifted: bool = False
    restriction_completed: bool = False


def _settings() -> dict[str, object]:
    return app_settings(current_app.config, current_app.instance_path)


def _has_event(data_request: DataRequest, action: str) -> bool:
    return (
        get_session()
        .exec(
            select(RequestEvent.sequence).where(
                RequestEvent.request_id == data_request.id, RequestEvent.action == action
            )
        )
        .first()
        is not None
    )


def changes_panel(data_request: DataRequest) -> ChangesPanel:
    """Gather what the panel shows for this request (the plan only while it can still change)."""
    db_session = get_session()
    user = current_staff()
    panel = ChangesPanel(can_act=user is not None and user.role in operations.WORKING_ROLES)
    kind, status = data_request.type, data_request.status
    if kind is RequestType.ERASURE and data_request.id is not None:
        panel.runs = erasure.system_runs(db_session, data_request.id)
        panel.certificate = (
            db_session.exec(
                select(ErasureCertificate.id).where(
                    ErasureCertificate.request_id == data_request.id
                )
            ).first()
            is not None
        )
        if data_request.verified_at is not None and status not in TERMINAL:
            data_map = desk_map(current_app.config)
            with open_systems(current_app.config, data_map).opened() as systems:
                try:
                    panel.plan = erasure.subject_plan(
                        data_map, systems, data_request.requester_email
                    )
                except SystemUnavailable as error:
                    panel.plan_problem = str(error)
                except ChangeRefused as error:
                    panel.plan_problem = error.message
    if kind is RequestType.RECTIFICATION and data_request.id is not None:
        data_map = desk_map(current_app.config)
        approved = changes.approved_values(db_session, data_request.id)
        language = "fr" if data_request.language.value == "fr" else "en"
        for (system, column), category_id in changes.rectifiable_fields(data_map).items():
            label = next(
                f.label.get(language)
                for f in data_map.categories[category_id].fields
                if f.column == column
            )
            panel.rectifiable.append(
                RectifiableField(
                    system, column, category_id, label, approved.get((system, column), "")
                )
            )
        panel.rectification_open = status in (
            Status.VERIFIED,
            Status.IN_REVIEW,
            Status.AWAITING_REQUESTER,
            Status.APPROVED,
            Status.FAILED,
        )
    if kind is RequestType.DEACTIVATION and status is Status.COMPLETED:
        panel.reactivable = True
        panel.reactivated = _has_event(data_request, changes.REACTIVATED_ACTION)
    if kind is RequestType.RESTRICTION and status is Status.COMPLETED:
        panel.restriction_completed = True
        panel.restriction_lift_announced = _has_event(data_request, changes.LIFT_ANNOUNCED_ACTION)
        panel.restriction_lifted = _has_event(data_request, changes.LIFTED_ACTION)
    return panel


@blueprint.app_context_processor
def _changes_globals() -> dict[str, object]:
    return {"changes_panel": changes_panel}


def _page(data_request: DataRequest) -> AnyResponse:
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)


def _staff_label() -> str:
    user = current_staff()
    if user is None:
        abort(403)
    return user.email


@blueprint.get("/dashboard/requests/<reference>/certificate")
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


@blueprint.post("/dashboard/requests/<reference>/rectification")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def save_rectification(reference: str) -> AnyResponse:
    """Keep the new values staff approved for each rectifiable field (empty: not corrected)."""
    who = _staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    data_map = desk_map(current_app.config)
    values: dict[tuple[str, str], str | None] = {}
    for name, value in request.form.items():
        if name.startswith(FIELD_PREFIX):
            system, _, column = name[len(FIELD_PREFIX) :].partition(":")
            values[(system, column)] = value
    try:
        count = changes.save_rectification_values(
            db_session=db_session,
            request=data_request,
            data_map=data_map,
            values=values,
            staff_label=who,
            now=utcnow(),
        )
    except ChangeRefused as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return _page(data_request)
    flash(gettext("%(count)d new value(s) approved.", count=count))
    return _page(data_request)


@blueprint.post("/dashboard/requests/<reference>/reactivate")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def reactivate(reference: str) -> AnyResponse:
    """Give a deactivated account back, at the person's request."""
    who = _staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    try:
        changes.reactivate(
            db_session=db_session,
            request=data_request,
            settings=_settings(),
            staff_label=who,
            reason=request.form.get("reason", ""),
            now=utcnow(),
        )
    except ChangeRefused as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return _page(data_request)
    except SystemUnavailable as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=str(error)), "error")
        return _page(data_request)
    deliver_after_commit(get_session())
    flash(gettext("The account is active again; the person was told."))
    return _page(data_request)


@blueprint.post("/dashboard/requests/<reference>/restriction/announce")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def announce_lift(reference: str) -> AnyResponse:
    """Tell the person, with the reason, that their restriction will be lifted."""
    who = _staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    try:
        changes.announce_restriction_lift(
            db_session=db_session,
            request=data_request,
            settings=_settings(),
            staff_label=who,
            reason=request.form.get("reason", ""),
            now=utcnow(),
        )
    except ChangeRefused as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return _page(data_request)
    deliver_after_commit(get_session())
    flash(gettext("The person was told that the restriction will be lifted."))
    return _page(data_request)


@blueprint.post("/dashboard/requests/<reference>/restriction/lift")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def lift(reference: str) -> AnyResponse:
    """Lift a restriction the person was told about beforehand."""
    who = _staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    try:
        changes.lift_restriction(
            db_session=db_session,
            request=data_request,
            settings=_settings(),
            staff_label=who,
            now=utcnow(),
        )
    except ChangeRefused as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return _page(data_request)
    except SystemUnavailable as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=str(error)), "error")
        return _page(data_request)
    flash(gettext("The restriction is lifted."))
    return _page(data_request)
