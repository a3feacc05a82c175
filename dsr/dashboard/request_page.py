"""What a request's page shows, gathered before it renders: its deadline, the data found for the
subject, the panels of execution, delivery and changes (`request_panels`), the action forms the
workflow allows now, the timeline and the requester's other requests (R7).

`gather_request_page` reads the store and the learner platform; the template only renders the
`RequestPage` it returns, so a page can be rendered from a model built by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlmodel import Session, col, select
from wtforms import Form

from dsr.accounts.access import current_staff
from dsr.accounts.models import WORKING_ROLES, StaffUser
from dsr.answer_templates import service as answer_templates
from dsr.answer_templates.models import TemplateKind
from dsr.answer_templates.service import templates_for
from dsr.audit.models import (
    CONTENT_REMOVED_ACTION,
    RETENTION_CAUSE,
    ContentRemoval,
    RequestEvent,
    content_removals,
)
from dsr.dashboard.channel_forms import AnswerPostedForm
from dsr.dashboard.channel_panel import ChannelPanel, channel_panel
from dsr.dashboard.document_panel import DocumentsPanel, documents_panel
from dsr.dashboard.forms import (
    ActionForm,
    AskForm,
    AssignForm,
    DenyForm,
    DocumentForm,
    ExtendForm,
    HoldForm,
    IdentityDocumentForm,
    LiftHoldForm,
    NoteForm,
    RemoveDocumentForm,
    ResumeForm,
    VerifyForm,
)
from dsr.dashboard.hold_panel import HoldsPanel, holds_panel
from dsr.dashboard.map_views import CategoryShown, categories_shown
from dsr.dashboard.mention_panel import MentionsPanel, mentions_panel
from dsr.dashboard.queue import Urgency, urgency_of
from dsr.dashboard.request_panels import (
    ChangesPanel,
    DeliveryPanel,
    ProgressPanel,
    changes_panel,
    delivery_panel,
    progress_panel,
)
from dsr.dashboard.requester_panel import RequesterPanel, requester_panel
from dsr.datamap import desk_map, open_systems
from dsr.dates import shown_date, shown_minute
from dsr.db import get_session, utcnow
from dsr.delivery import service as delivery
from dsr.delivery.renewal import RENEWED_ACTION
from dsr.documents import service as documents
from dsr.execution import changes as change_runs
from dsr.execution.erasure import ERASED_ACTION
from dsr.execution.objection import (
    DIRECTIVES_RECORDED_ACTION,
    OBJECTION_ACCEPTED_ACTION,
    affected_categories,
)
from dsr.execution.runner import RESUMED_ACTION
from dsr.holds import service as holds
from dsr.i18n import actor_shown, current_language, gettext, lazy_gettext
from dsr.requests import (
    assignment,
    groups,
    identity_check,
    notes,
    representation,
    unverified,
)
from dsr.requests import identities as identities_module
from dsr.requests.channels import LETTER_PRINTED_ACTION
from dsr.requests.identities import other_identities
from dsr.requests.labels import STAFF_STATUS_LABELS
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Actor, available_actions
from inventory.locator import category_counts, locate_subject
from inventory.model import DataMap, IdentityKind
from inventory.phrases import said
from inventory.systems import SystemUnavailable

EARLIER_REQUESTS_SHOWN = 20

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
    "status_link_renewed": lazy_gettext("New status link sent at the requester's request"),
    Action.VERIFY_EMAIL.value: lazy_gettext("Address verified"),
    Action.EXPIRE.value: lazy_gettext("Expired, never verified"),
    Action.START_REVIEW.value: lazy_gettext("Review started"),
    Action.ASK_REQUESTER.value: lazy_gettext("Requester asked for information"),
    Action.REQUESTER_ANSWERED.value: lazy_gettext("Requester answered"),
    Action.APPROVE.value: lazy_gettext("Approved"),
    Action.DENY.value: lazy_gettext("Refused"),
    Action.START_PROCESSING.value: lazy_gettext("Processing started"),
    Action.FINISH_PROCESSING.value: lazy_gettext("Ready to send"),
    RESUMED_ACTION: lazy_gettext("Run taken over by another worker"),
    Action.APPLY_AT_ONCE.value: lazy_gettext("Applied on verification"),
    Action.COMPLETE.value: lazy_gettext("Answered (answer delivered)"),
    Action.ANSWER_POSTED.value: lazy_gettext("Answered (answer posted)"),
    LETTER_PRINTED_ACTION: lazy_gettext("Answer letter downloaded to print"),
    Action.FAIL.value: lazy_gettext("Failed"),
    Action.CANCEL.value: lazy_gettext("Cancelled"),
    Action.EXTEND.value: lazy_gettext("Deadline extended"),
    notes.NOTE_ACTION: lazy_gettext("Internal note"),
    assignment.ASSIGN_ACTION: lazy_gettext("Assigned"),
    holds.PLACED_ACTION: lazy_gettext("Legal hold placed"),
    holds.LIFTED_ACTION: lazy_gettext("Legal hold lifted early"),
    holds.RELEASED_ACTION: lazy_gettext("Legal hold ended"),
    documents.ADDED_ACTION: lazy_gettext("Document kept"),
    documents.VIEWED_ACTION: lazy_gettext("Document opened"),
    documents.REMOVED_ACTION: lazy_gettext("Document content deleted"),
    representation.PROOF_CHECKED_ACTION: lazy_gettext("Proof of representation checked"),
    representation.REPRESENTATION_SET_ACTION: lazy_gettext("Whom the request is for was set"),
    identity_check.CHECKED_ACTION: lazy_gettext("Identity check recorded"),
    identities_module.ADDED_ACTION: lazy_gettext("Another identity of the person added"),
    identities_module.REMOVED_ACTION: lazy_gettext("Identity removed from the request"),
    CONTENT_REMOVED_ACTION: lazy_gettext("Content of the history removed"),
    unverified.DELETE_ACTION: lazy_gettext("Deleted, never verified"),
    OBJECTION_ACCEPTED_ACTION: lazy_gettext("Objection accepted: processing of a category stopped"),
    DIRECTIVES_RECORDED_ACTION: lazy_gettext("Post-mortem directives recorded"),
    ERASED_ACTION: lazy_gettext("Erasure carried out"),
    change_runs.APPLIED_ACTION: lazy_gettext("Change carried out"),
    change_runs.REACTIVATED_ACTION: lazy_gettext("Account reactivated"),
    change_runs.LIFT_ANNOUNCED_ACTION: lazy_gettext(
        "Requester told the restriction will be lifted"
    ),
    change_runs.LIFTED_ACTION: lazy_gettext("Restriction lifted"),
    change_runs.RECTIFIED_ACTION: lazy_gettext("Data rectified"),
    change_runs.OBJECTION_PENDING_ACTION: lazy_gettext("Objection awaiting its application"),
    change_runs.RECTIFICATION_APPROVED_ACTION: lazy_gettext("Corrected values approved"),
    delivery.SENT_ACTION: lazy_gettext("Answer sent"),
    delivery.VIEWED_ACTION: lazy_gettext("Report opened by staff"),
    delivery.DOWNLOADED_ACTION: lazy_gettext("Report downloaded by the requester"),
    delivery.CODE_SENT_ACTION: lazy_gettext("Download code sent"),
    delivery.LOCKED_ACTION: lazy_gettext("Download locked after wrong codes"),
    delivery.PURGED_ACTION: lazy_gettext("Reports deleted"),
    RENEWED_ACTION: lazy_gettext("Download link renewed"),
    answer_templates.CREATED_ACTION: lazy_gettext("Answer template created"),
    answer_templates.UPDATED_ACTION: lazy_gettext("Answer template changed"),
    answer_templates.DELETED_ACTION: lazy_gettext("Answer template deleted"),
    "answer_sent_again": lazy_gettext("Answer sent again"),
    "task_created": lazy_gettext("Task created"),
    "task_done": lazy_gettext("Task done"),
    "minimise": lazy_gettext("Closed request minimised"),
    "housekeeping": lazy_gettext("Housekeeping of the desk's records"),
    "retention_sweep": lazy_gettext("Retention sweep"),
    "retention_sweep_approved": lazy_gettext("Retention sweep approved"),
}
"""What each audited action is called on the timeline and in the audit log; others are shown by
their name."""

REMOVAL_CAUSES: Mapping[str, str] = {RETENTION_CAUSE: lazy_gettext("retention")}
"""Why the content of events was removed, as staff read it."""


def event_label(action: str) -> str:
    return EVENT_LABELS.get(action) or action.replace("_", " ")


def removal_note(removal: ContentRemoval | None) -> str:
    """Say that an event's content was removed, when and why (what shows instead of it)."""
    if removal is None:
        return gettext("Content removed.")
    return gettext(
        "Content removed on %(date)s (%(cause)s).",
        date=shown_date(removal.at),
        cause=REMOVAL_CAUSES.get(removal.cause, removal.cause),
    )


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


TEMPLATE_FIELDS: Mapping[TemplateKind, tuple[str, str]] = {
    TemplateKind.QUESTION: ("ask", "question"),
    TemplateKind.REFUSAL: ("deny", "reason"),
}
"""The action form each kind of answer template fills, and the field it fills."""


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
    content_removed: str | None = None  # what shows instead of a content minimisation removed


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    """An answer template a form of the page offers: staff see its title."""

    id: int
    title: str


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
    holds: HoldsPanel
    can_act: bool
    forms: Mapping[str, Form]
    timeline: list[TimelineEntry]
    earlier: list[DataRequest]
    # the map's categories an objection on legitimate interests or post-mortem directives concern
    affected: list[CategoryShown] = field(default_factory=list)
    action_titles: Mapping[str, str] = field(default_factory=lambda: ACTION_TITLES)
    progress: ProgressPanel = field(default_factory=ProgressPanel)
    templates: Mapping[str, list[TemplateChoice]] = field(default_factory=dict)
    chosen_template: int | None = None  # the answer template whose text fills its form
    documents: DocumentsPanel = field(default_factory=DocumentsPanel)
    # several things in one request (issue 19): the submission's other parts, and those an
    # erasure or deactivation waits for before it can be approved
    other_parts: list[DataRequest] = field(default_factory=list)
    waits_for: Sequence[DataRequest] = ()
    requester: RequesterPanel = field(default_factory=RequesterPanel)  # R45, R46
    mentions: MentionsPanel = field(default_factory=MentionsPanel)  # issue 20
    channel: ChannelPanel | None = None  # how it came and how its answer goes (R44)


# --- gathering ----------------------------------------------------------------------------------


def can_act(user: StaffUser | None) -> bool:
    """Whether `user` works requests (acts on them), not only reads them."""
    return user is not None and user.role in WORKING_ROLES


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
    removal = None
    if any(event.content_removed for event in events) and data_request.id is not None:
        removal = content_removals(db_session=db_session, request_ids=[data_request.id]).get(
            data_request.id
        )
    return [
        TimelineEntry(
            moment=shown_minute(event.at),
            label=event_label(event.action),
            actor=actor_shown(event.actor_label),
            status_change=_status_change(event),
            reason=event.reason,
            content_removed=removal_note(removal) if event.content_removed else None,
        )
        for event in events
    ]


def earlier_requests(db_session: Session, data_request: DataRequest) -> list[DataRequest]:
    """Return the other requests from the same address, newest first (R7: repeated requests);
    none for a request without an address (a letter, a call: R44)."""
    if not data_request.has_address:
        return []
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


def subject_data(
    data_map: DataMap, data_request: DataRequest, others: tuple[tuple[str, str], ...] = ()
) -> SubjectData:
    """Locate the subject by their verified address (the represented person's, R45) and the
    `others` identities staff added, in every system of the map; a system that cannot be read
    is reported, not raised."""
    if data_request.verified_at is None:
        return SubjectData()
    identity = next(
        (name for name, spec in data_map.identities.items() if spec.kind is IdentityKind.EMAIL),
        None,
    )
    if identity is None:
        return SubjectData(problem=gettext("The data map declares no email identity."))
    systems = open_systems(current_app.config, data_map)
    try:
        location = locate_subject(
            data_map, systems, identity, data_request.subject_address, others=others
        )
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
        flags=[said(flag.message, gettext) for flag in location.flags],
    )


def offered_forms(
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


def offered_templates(
    db_session: Session,
    data_request: DataRequest,
    forms: dict[str, Form],
    chosen: int | None = None,
) -> tuple[dict[str, list[TemplateChoice]], int | None]:
    """Return the answer templates each form of `forms` offers (those of the request's type, or
    any, in the requester's language), and fill the form the template `chosen` fits with its
    text, still to be edited and sent; return `chosen` when it was one of them, else None."""
    offered: dict[str, list[TemplateChoice]] = {}
    filled = None
    for kind, (name, field_name) in TEMPLATE_FIELDS.items():
        if name not in forms:
            continue
        found = templates_for(
            db_session,
            kind=kind,
            request_type=data_request.type.value,
            language=data_request.language,
        )
        offered[name] = [TemplateChoice(t.id, t.title) for t in found if t.id is not None]
        template = next((t for t in found if t.id == chosen), None)
        if template is not None:
            forms[name] = OFFERED_BY_NAME[name].form_class(
                data={"version_id": str(data_request.version_id), field_name: template.text}
            )
            filled = chosen
    return offered, filled


def _document_form(
    bound: tuple[str, Form] | None,
) -> DocumentForm | RemoveDocumentForm | None:
    form = bound[1] if bound is not None and bound[0] == "document" else None
    return form if isinstance(form, DocumentForm | RemoveDocumentForm) else None


def _posted_form(bound: tuple[str, Form] | None) -> AnswerPostedForm | None:
    form = bound[1] if bound is not None and bound[0] == "answer_posted" else None
    return form if isinstance(form, AnswerPostedForm) else None


def _hold_form(bound: tuple[str, Form] | None) -> HoldForm | LiftHoldForm | None:
    form = bound[1] if bound is not None and bound[0] == "hold" else None
    return form if isinstance(form, HoldForm | LiftHoldForm) else None


def gather_request_page(
    data_request: DataRequest,
    *,
    bound: tuple[str, Form] | None = None,
    template_id: int | None = None,
) -> RequestPage:
    """Read everything the request's page shows, from the store and the map's systems, for the
    staff member of this web request; with `template_id`, the form that answer template fits
    shows its text."""
    db_session = get_session()
    data_map = desk_map(current_app.config)
    acting = can_act(current_staff())
    now = utcnow()
    due, days_left, urgency = urgency_of(data_request.state, now)
    staff = list(assignment.assignable_staff(db_session=db_session))
    staff_names = dict(staff)
    language = current_language().value
    forms = offered_forms(data_request, staff, bound) if acting else {}
    templates, chosen = offered_templates(db_session, data_request, forms, template_id)
    return RequestPage(
        data_request=data_request,
        due=due,
        days_left=days_left,
        urgency=urgency,
        assignee=(
            staff_names.get(data_request.assignee_id, "—") if data_request.assignee_id else None
        ),
        subject=subject_data(data_map, data_request, other_identities(db_session, data_request.id)),
        category_titles={
            category_id: category.title.get(language)
            for category_id, category in data_map.categories.items()
        },
        delivery=delivery_panel(db_session, data_request, acting),
        progress=progress_panel(db_session, data_map, data_request, language),
        changes=changes_panel(db_session, data_map, data_request, acting),
        holds=holds_panel(
            db_session,
            data_map,
            data_request,
            acting=acting,
            language=language,
            now=now,
            bound=_hold_form(bound),
        ),
        documents=documents_panel(
            db_session, data_request, acting=acting, bound=_document_form(bound)
        ),
        requester=requester_panel(
            db_session,
            data_map,
            data_request,
            acting=acting,
            bound=bound if bound is not None and bound[0] == "requester" else None,
        ),
        channel=channel_panel(data_request, acting=acting, bound=_posted_form(bound)),
        can_act=acting,
        forms=forms,
        templates=templates,
        chosen_template=chosen,
        timeline=timeline(db_session, data_request),
        earlier=earlier_requests(db_session, data_request),
        affected=affected_shown(data_map, data_request, language),
        other_parts=groups.other_parts(db_session, data_request),
        waits_for=groups.answers_awaited(db_session, data_request),
        mentions=mentions_panel(
            db_session, data_map, data_request, acting=acting, language=language
        ),
    )


def affected_shown(
    data_map: DataMap, data_request: DataRequest, language: str
) -> list[CategoryShown]:
    """Return the map's categories the request concerns, as the map page shows them (Art. 21(1):
    those on legitimate interests; art. 85 LIL: all of them), none for the other types."""
    keys = set(affected_categories(data_map, data_request.type))
    return [shown for shown in categories_shown(data_map, language) if shown.key in keys]
