"""What a request's page shows, gathered before it renders: its deadline, the data found for the
subject, the panels of execution, delivery and changes, the action forms the workflow allows now,
the timeline and the requester's other requests (R7).

`gather_request_page` reads the store and the learner platform; the template only renders the
`RequestPage` it returns, so a page can be rendered from a model built by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select
from wtforms import Form

from dsr.accounts.access import current_staff
from dsr.accounts.models import StaffUser
from dsr.audit.models import RequestEvent
from dsr.dashboard import operations
from dsr.dashboard.audit_views import shown_moment
from dsr.dashboard.blueprint import current_data_map, open_systems
from dsr.dashboard.forms import (
    ActionForm,
    AskForm,
    AssignForm,
    DenyForm,
    ExtendForm,
    IdentityDocumentForm,
    NoteForm,
    ReasonForm,
    RectificationForm,
    ResumeForm,
    VerifyForm,
)
from dsr.dashboard.queue import Urgency, due_as_of, urgency_of
from dsr.db import get_session, utcnow
from dsr.delivery import service
from dsr.delivery.forms import SendReportForm
from dsr.delivery.models import DownloadLink, Report
from dsr.execution import changes, erasure
from dsr.execution.change_records import ErasureCertificate, ErasureSystemRun
from dsr.execution.runner import failure_reason, has_executor
from dsr.execution.targets import ChangeRefused
from dsr.i18n import STAFF_STATUS_LABELS, actor_shown, current_language, gettext, lazy_gettext
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, Action, Actor, RequestType, Status, available_actions
from inventory.erasure import ErasurePlan
from inventory.locator import category_counts, locate_subject
from inventory.model import DataMap, IdentityKind
from inventory.systems import SystemUnavailable

EARLIER_REQUESTS_SHOWN = 20

RUNNABLE = frozenset({Status.APPROVED, Status.FAILED})
"""Staff can run a request approved (when its run did not start) or failed (a retry)."""

RECTIFICATION_OPEN = frozenset(
    {Status.VERIFIED, Status.IN_REVIEW, Status.AWAITING_REQUESTER, Status.APPROVED, Status.FAILED}
)
"""The statuses in which staff can still change the new values of a rectification."""

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


# --- the page's parts ---------------------------------------------------------------------------


@dataclass
class SubjectData:
    """What the locator found for the subject, or why it could not look."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    checked: bool = False
    problem: str | None = None
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One audit event as the history shows it: when, what, the change of status, who, why."""

    moment: str
    label: str
    actor: str
    status_change: tuple[str, str] | None = None
    reason: str | None = None


@dataclass
class DeliveryPanel:
    """What the request page shows about running and delivering the request."""

    runnable: bool
    failure: str | None = None
    reports: list[Report] = field(default_factory=list)
    link: DownloadLink | None = None
    send_form: SendReportForm | None = None
    retry_form: ActionForm | None = None


@dataclass(frozen=True, slots=True)
class RectifiableField:
    system: str
    column: str
    category: str
    label: str
    value: str

    @property
    def form_name(self) -> str:
        return RectificationForm.field_name(self.system, self.column)


@dataclass
class ChangesPanel:
    """What the request page shows about the changes a request makes to the systems, with the
    forms of the actions staff may take on them now."""

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
    rectification_form: RectificationForm | None = None
    reactivate_form: ReasonForm | None = None
    announce_lift_form: ReasonForm | None = None


@dataclass(frozen=True, slots=True)
class RequestPage:
    """Everything a request's page shows, as values: rendering it reads no database."""

    data_request: DataRequest
    due: datetime
    days_left: int | None
    urgency: Urgency
    assignee: str | None
    subject: SubjectData
    category_titles: Mapping[str, str]
    delivery: DeliveryPanel
    changes: ChangesPanel
    can_act: bool
    forms: Mapping[str, Form]
    timeline: list[TimelineEntry]
    earlier: list[DataRequest]
    action_titles: Mapping[str, str] = field(default_factory=lambda: ACTION_TITLES)


# --- gathering ----------------------------------------------------------------------------------


def can_act(user: StaffUser | None) -> bool:
    """Whether `user` works requests (acts on them), not only reads them."""
    return user is not None and user.role in operations.WORKING_ROLES


def _status_change(event: RequestEvent) -> tuple[str, str] | None:
    before, after = event.from_status, event.to_status
    if not before or not after or before == after:
        return None
    return str(STAFF_STATUS_LABELS[before]), str(STAFF_STATUS_LABELS[after])


def timeline(db_session: Session, data_request: DataRequest) -> list[TimelineEntry]:
    """Return the request's audit events as the history shows them, oldest first."""
    events = db_session.exec(
        select(RequestEvent)
        .where(RequestEvent.request_id == data_request.id)
        .order_by(col(RequestEvent.sequence))
    ).all()
    return [
        TimelineEntry(
            moment=shown_moment(event.at),
            label=event_label(event.action),
            actor=actor_shown(event.actor_label),
            status_change=_status_change(event),
            reason=event.reason,
        )
        for event in events
    ]


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


def subject_data(data_map: DataMap, data_request: DataRequest) -> SubjectData:
    """Locate the subject by their verified address in every system of the map; a system that
    cannot be read is reported, not raised."""
    if data_request.verified_at is None:
        return SubjectData()
    identity = next(
        (name for name, spec in data_map.identities.items() if spec.kind is IdentityKind.EMAIL),
        None,
    )
    if identity is None:
        return SubjectData(problem=gettext("The data map declares no email identity."))
    with open_systems().opened() as systems:
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


def delivery_panel(db_session: Session, data_request: DataRequest, acting: bool) -> DeliveryPanel:
    """Gather why the last run failed, the reports produced and their link, and the forms to run
    the request again or send its reports when `acting` staff may."""
    panel = DeliveryPanel(runnable=has_executor(data_request.type))
    panel.failure = failure_reason(db_session, data_request)
    panel.reports = service.reports_of(db_session, data_request.id)
    panel.link = service.link_of(db_session, data_request.id)
    if acting and panel.runnable and data_request.status in RUNNABLE:
        panel.retry_form = ActionForm(data={"version_id": str(data_request.version_id)})
    if (
        acting
        and data_request.status is Status.COMPLETED
        and panel.reports
        and panel.link is None
        and data_request.verified_at is not None
    ):
        panel.send_form = SendReportForm()
    return panel


def has_event(db_session: Session, data_request: DataRequest, action: str) -> bool:
    """Whether the request's audit trail records `action`."""
    found = db_session.exec(
        select(RequestEvent.sequence).where(
            RequestEvent.request_id == data_request.id, RequestEvent.action == action
        )
    ).first()
    return found is not None


def rectifiable_fields(
    db_session: Session, data_map: DataMap, data_request: DataRequest
) -> list[RectifiableField]:
    """Return the fields the map marks rectifiable, with the new values approved so far."""
    if data_request.id is None:
        return []
    approved = changes.approved_values(db_session, data_request.id)
    language = "fr" if data_request.language.value == "fr" else "en"
    fields: list[RectifiableField] = []
    for (system, column), category_id in changes.rectifiable_fields(data_map).items():
        label = next(
            f.label.get(language)
            for f in data_map.categories[category_id].fields
            if f.column == column
        )
        value = approved.get((system, column), "")
        fields.append(RectifiableField(system, column, category_id, label, value))
    return fields


def changes_panel(
    db_session: Session, data_map: DataMap, data_request: DataRequest, acting: bool
) -> ChangesPanel:
    """Gather what the panel shows for this request (the plan only while it can still change)."""
    panel = ChangesPanel(can_act=acting)
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
            with open_systems().opened() as systems:
                try:
                    panel.plan = erasure.subject_plan(
                        data_map, systems, data_request.requester_email
                    )
                except SystemUnavailable as error:
                    panel.plan_problem = str(error)
                except ChangeRefused as error:
                    panel.plan_problem = error.message
    if kind is RequestType.RECTIFICATION and data_request.id is not None:
        panel.rectifiable = rectifiable_fields(db_session, data_map, data_request)
        panel.rectification_open = status in RECTIFICATION_OPEN
        if acting and panel.rectification_open and panel.rectifiable:
            panel.rectification_form = RectificationForm.for_fields(
                {(item.system, item.column): item.value for item in panel.rectifiable}
            )
    if kind is RequestType.DEACTIVATION and status is Status.COMPLETED:
        panel.reactivable = True
        panel.reactivated = has_event(db_session, data_request, changes.REACTIVATED_ACTION)
        if acting:
            panel.reactivate_form = ReasonForm()
    if kind is RequestType.RESTRICTION and status is Status.COMPLETED:
        panel.restriction_completed = True
        panel.restriction_lift_announced = has_event(
            db_session, data_request, changes.LIFT_ANNOUNCED_ACTION
        )
        panel.restriction_lifted = has_event(db_session, data_request, changes.LIFTED_ACTION)
        if acting and not panel.restriction_lift_announced:
            panel.announce_lift_form = ReasonForm()
    return panel


def action_forms(
    data_request: DataRequest,
    staff: list[tuple[int, str]],
    bound: tuple[str, Form] | None = None,
) -> dict[str, Form]:
    """Return the form of each action the workflow allows now, filled with the request's
    version; `bound` replaces one with the form just posted, to show its errors."""
    allowed = set(available_actions(data_request.status, Actor.STAFF))
    forms: dict[str, Form] = {}
    for offered in OFFERED_ACTIONS:
        if offered.action is not None and offered.action not in allowed:
            continue
        if offered.form_class is AssignForm:
            forms[offered.name] = AssignForm(
                staff=staff,
                data={
                    "version_id": str(data_request.version_id),
                    "assignee": str(data_request.assignee_id or ""),
                },
            )
        else:
            forms[offered.name] = offered.form_class(
                data={"version_id": str(data_request.version_id)}
            )
    if bound is not None and bound[0] in forms:
        forms[bound[0]] = bound[1]
    return forms


def gather_request_page(
    data_request: DataRequest, *, bound: tuple[str, Form] | None = None
) -> RequestPage:
    """Read everything the request's page shows, from the store and the map's systems, for the
    staff member of this web request."""
    db_session = get_session()
    data_map = current_data_map()
    acting = can_act(current_staff())
    now = utcnow()
    due = due_as_of(data_request.due_at, data_request.paused_since, now)
    days_left, urgency = urgency_of(data_request.status, due, now)
    staff = list(operations.assignable_staff(db_session=db_session))
    staff_names = dict(staff)
    language = current_language().value
    return RequestPage(
        data_request=data_request,
        due=due,
        days_left=days_left,
        urgency=urgency,
        assignee=(
            staff_names.get(data_request.assignee_id, "—") if data_request.assignee_id else None
        ),
        subject=subject_data(data_map, data_request),
        category_titles={
            category_id: category.title.get(language)
            for category_id, category in data_map.categories.items()
        },
        delivery=delivery_panel(db_session, data_request, acting),
        changes=changes_panel(db_session, data_map, data_request, acting),
        can_act=acting,
        forms=action_forms(data_request, staff, bound) if acting else {},
        timeline=timeline(db_session, data_request),
        earlier=earlier_requests(db_session, data_request),
    )
