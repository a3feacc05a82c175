"""The panels of a request's page about what its run produced and changes: why the last run
failed, its reports and their link, the erasure plan (per system, table and category: rows,
action, new values, what is kept and why; the texts of others confirmed to name the person) and
what each system's run did, the certificate, a rectification's new values, reactivation and the
lifting of a restriction; with the forms of the actions staff may take on them now
(`request_actions`).

Importing this module registers the erasure and change executors (`dsr.execution`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlmodel import Session, select

from dsr.audit.models import RequestEvent
from dsr.config import setting_on
from dsr.dashboard.forms import ActionForm, ReasonForm, RectificationForm, SendReportForm
from dsr.datamap import open_systems
from dsr.db import utcnow
from dsr.delivery import service
from dsr.delivery.models import DownloadLink, Report
from dsr.execution import changes, erasure
from dsr.execution.change_records import ErasureCertificate, ErasureSystemRun
from dsr.execution.runner import failure_reason, has_executor
from dsr.execution.runs import ProgressState, run_progress
from dsr.execution.targets import ChangeRefused
from dsr.holds.service import map_with_holds
from dsr.i18n import gettext, lazy_gettext
from dsr.mentions.service import MentionsPlan, decisions, mentions_plan, possible_mentions
from dsr.outbox.models import OutboxStatus
from dsr.requests.answers import AnswerEmail, answer_email
from dsr.requests.identities import other_identities
from dsr.requests.models import AnswerChannel, DataRequest
from dsr.requests.workflow import TERMINAL, RequestType, Status
from inventory.anonymisation import ErasurePlanError
from inventory.erasure import ErasurePlan
from inventory.model import DataMap
from inventory.phrases import said
from inventory.systems import SystemUnavailable

RUNNABLE = frozenset({Status.APPROVED, Status.FAILED})
"""Staff can run a request approved (when its run did not start) or failed (a retry)."""

RECTIFICATION_OPEN = frozenset(
    {Status.VERIFIED, Status.IN_REVIEW, Status.AWAITING_REQUESTER, Status.APPROVED, Status.FAILED}
)
"""The statuses in which staff can still change the new values of a rectification."""


PROGRESS_LABELS = {
    ProgressState.WAITING: lazy_gettext("Not started yet"),
    ProgressState.RUNNING: lazy_gettext("Running"),
    ProgressState.DONE: lazy_gettext("Done in this system"),
    ProgressState.FAILED: lazy_gettext("Stopped on an error"),
}
REFRESH_SECONDS = 3
"""How often the page shows the progress afresh while the request waits for or is in its run."""


@dataclass(frozen=True, slots=True)
class SystemProgress:
    """Where one system of the map stands in the request's run."""

    system: str
    title: str
    state: ProgressState
    rows: int | None = None
    reason: str | None = None

    @property
    def state_label(self) -> str:
        return str(PROGRESS_LABELS[self.state])


@dataclass
class ProgressPanel:
    """The run's progress per system; `queued` while it waits for a worker; the page refreshes
    itself every `refresh_seconds` (0: not) while the request waits for or is in its run."""

    systems: list[SystemProgress] = field(default_factory=list)
    queued: bool = False
    refresh_seconds: int = 0


def progress_panel(
    db_session: Session, data_map: DataMap, data_request: DataRequest, language: str
) -> ProgressPanel:
    """Gather the progress of the request's current (or last) run, every system of the map in
    its order (a system not reported yet is waiting)."""
    if data_request.id is None or not has_executor(data_request.type):
        return ProgressPanel()
    reported = run_progress(db_session, data_request.id)
    queued = data_request.status is Status.APPROVED and setting_on(
        current_app.config, "EXECUTE_AFTER_APPROVAL"
    )
    running = data_request.status is Status.PROCESSING
    if not (reported or queued or running):
        return ProgressPanel()
    systems = []
    for system, spec in data_map.systems.items():
        row = reported.get(system)
        systems.append(
            SystemProgress(
                system=system,
                title=spec.title.get(language),
                state=row.state if row is not None else ProgressState.WAITING,
                rows=row.rows if row is not None else None,
                reason=row.reason if row is not None else None,
            )
        )
    return ProgressPanel(
        systems=systems,
        queued=queued and not reported,
        refresh_seconds=REFRESH_SECONDS if queued or running else 0,
    )


@dataclass
class DeliveryPanel:
    """What the request page shows about running and delivering the request."""

    runnable: bool
    failure: str | None = None
    reports: list[Report] = field(default_factory=list)
    link: DownloadLink | None = None
    answer: AnswerEmail | None = None  # the email carrying the answer: queued, sent or failed
    send_form: SendReportForm | None = None
    retry_form: ActionForm | None = None
    send_again_form: ActionForm | None = None

    @property
    def answer_failed(self) -> bool:
        return self.answer is not None and self.answer.status is OutboxStatus.FAILED


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
    mentions: MentionsPlan = field(default_factory=MentionsPlan)  # confirmed ones (issue 20)
    blocked: list[str] = field(default_factory=list)
    """What blocks the plan, in the staff's language."""
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


def delivery_panel(db_session: Session, data_request: DataRequest, acting: bool) -> DeliveryPanel:
    """Gather why the last run failed, the reports produced and their link, and the forms to run
    the request again or send its reports when `acting` staff may."""
    panel = DeliveryPanel(runnable=has_executor(data_request.type))
    panel.failure = failure_reason(db_session, data_request)
    panel.reports = service.reports_of(db_session, data_request.id)
    panel.link = service.link_of(db_session, data_request.id)
    panel.answer = answer_email(db_session, data_request.id)
    if acting and panel.runnable and data_request.status in RUNNABLE:
        panel.retry_form = ActionForm(data={"version_id": str(data_request.version_id)})
    if (
        acting
        and data_request.status is Status.READY_TO_SEND
        and panel.reports
        and (panel.link is None or panel.answer_failed)
        and data_request.verified_at is not None
        and data_request.answer_channel is not AnswerChannel.POST
    ):
        panel.send_form = SendReportForm()
    elif acting and data_request.status is Status.READY_TO_SEND and panel.answer_failed:
        panel.send_again_form = ActionForm(data={"version_id": str(data_request.version_id)})
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
            systems = open_systems(current_app.config, data_map).recheck_schema()
            try:
                held_map = map_with_holds(db_session, data_map, systems, data_request.id, utcnow())
                panel.plan = erasure.subject_plan(
                    held_map,
                    systems,
                    data_request.subject_address,
                    other_identities(db_session, data_request.id),
                )
                panel.mentions = mentions_plan(
                    data_map,
                    possible_mentions(data_map, systems, data_request),
                    decisions(db_session, data_request.id),
                )
            except SystemUnavailable as error:
                panel.plan_problem = str(error)
            except ChangeRefused as error:
                panel.plan_problem = error.message
            except ErasurePlanError as error:  # the map asks what a system cannot hold
                panel.plan_problem = error.said(gettext)
            if panel.plan is not None:
                panel.blocked = [said(reason, gettext) for reason in panel.plan.blocked]
    if kind is RequestType.RECTIFICATION and data_request.id is not None:
        panel.rectifiable = rectifiable_fields(db_session, data_map, data_request)
        panel.rectification_open = status in RECTIFICATION_OPEN
        if acting and panel.rectification_open and panel.rectifiable:
            panel.rectification_form = RectificationForm.for_fields(
                {(item.system, item.column): item.value for item in panel.rectifiable}
            )
    if kind is RequestType.DEACTIVATION and status in changes.CARRIED_OUT:
        panel.reactivable = True
        panel.reactivated = has_event(db_session, data_request, changes.REACTIVATED_ACTION)
        if acting:
            panel.reactivate_form = ReasonForm()
    if kind is RequestType.RESTRICTION and status in changes.CARRIED_OUT:
        panel.restriction_completed = True
        panel.restriction_lift_announced = has_event(
            db_session, data_request, changes.LIFT_ANNOUNCED_ACTION
        )
        panel.restriction_lifted = has_event(db_session, data_request, changes.LIFTED_ACTION)
        if acting and not panel.restriction_lift_announced:
            panel.announce_lift_form = ReasonForm()
    return panel
