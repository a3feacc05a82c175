"""Targeted changes through the map: deactivation (R29) and its reversal, restriction (R20) and
its lifting, objection to marketing (R27), rectification (R15).

The desk's side: which change a request applies, its audit events, the recipients' tasks and the
emails; `inventory.changes` sets the columns the map declares (`data_map.changes`) on the
subject's own rows, one transaction per system. Audit events hold counts; a rectification's old
values go in its audit event, which is the evidence of what was corrected. Executors register
with the runner on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col
from sqlmodel import select as model_select

from dsr import db
from dsr.audit.models import RequestEvent, record_action
from dsr.config import DEFAULTS
from dsr.datamap import desk_map, open_systems
from dsr.execution.change_records import RectificationValue
from dsr.execution.recipients import (
    LIFTED_WHAT,
    RECTIFIED_WHAT,
    RESTRICTED_WHAT,
    erased_fields,
    subject_now,
    tell_recipients,
)
from dsr.execution.runner import (
    ExecutionContext,
    ExecutionFailed,
    ExecutionResult,
    load_request,
    register_executor,
)
from dsr.execution.targets import ChangeRefused, email_identity
from dsr.languages import N_, translations
from dsr.requests.emails import EmailKind
from dsr.requests.identities import other_identities
from dsr.requests.models import DataRequest
from dsr.requests.service import mail_requester
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, RequestType, Status
from dsr.suppression.models import SuppressionReason
from dsr.suppression.service import suppress, suppression_key
from inventory.changes import ChangeOutcome, apply_subject_change, rectify_subject
from inventory.disclosures import subject_disclosures
from inventory.locator import locate_subject
from inventory.model import DataMap, SubjectChange
from inventory.systems import SystemUnavailable

CHANGE_OF_TYPE: Mapping[RequestType, str] = {
    RequestType.DEACTIVATION: "deactivation",
    RequestType.RESTRICTION: "restriction",
    RequestType.OBJECTION: "marketing_objection",
}
"""The change of the map each type of request applies."""

APPLIED_ACTION = "change_applied"
REACTIVATED_ACTION = "reactivated"
LIFT_ANNOUNCED_ACTION = "restriction_lift_announced"
LIFTED_ACTION = "restriction_lifted"
RECTIFIED_ACTION = "rectified"
OBJECTION_PENDING_ACTION = "objection_pending"
RECTIFICATION_APPROVED_ACTION = "rectification_values_approved"


def _change(data_map: DataMap, name: str) -> SubjectChange:
    change: SubjectChange | None = getattr(data_map.changes, name)
    if change is None:
        raise ChangeRefused(f"The data map does not say how to apply `{name}` (changes.{name}).")
    return change


def change_subject(
    settings: Mapping[str, Any],
    email: str,
    name: str,
    *,
    now: datetime,
    others: Sequence[tuple[str, str]] = (),
) -> ChangeOutcome:
    """Locate the subject by email and apply the map's change `name` to their rows."""
    data_map = desk_map(settings)
    change = _change(data_map, name)
    systems = open_systems(settings, data_map).recheck_schema()
    location = locate_subject(data_map, systems, email_identity(data_map), email, others=others)
    return apply_subject_change(data_map, systems, location, change, now=now)


# --- what the desk records and sends ------------------------------------------------------------


def _mail_change_done(
    db_session: Session,
    request: DataRequest,
    *,
    description: str,
    now: datetime,
    kind: EmailKind = EmailKind.CHANGE_DONE,
    dedup: str,
    answers: bool = False,
) -> None:
    """Queue the email saying what was changed; `answers`: it is the request's answer, whose
    delivery completes it (R47)."""
    mail_requester(
        db_session,
        request,
        kind,
        dedup_key=f"{dedup}:{request.id}",
        now=now,
        answers=answers,
        description=description,
    )


# --- executors -----------------------------------------------------------------------------------


def _execute_change(context: ExecutionContext) -> ExecutionResult:
    name = CHANGE_OF_TYPE[context.request_type]
    data_map = desk_map(context.settings)
    try:
        key = suppression_key(context.settings)
    except ValueError as error:
        raise ExecutionFailed(str(error)) from None
    try:
        change = _change(data_map, name)
        restricted, disclosed = (
            subject_now(context.settings, data_map, context.subject, context.other_identities)
            if name == "restriction"
            else ([], [])
        )
        outcome = change_subject(
            context.settings,
            context.subject,
            name,
            now=context.now,
            others=context.other_identities,
        )
    except ChangeRefused as error:
        raise ExecutionFailed(error.message) from None
    description = change.description.get(context.language.value)

    def record(db_session: Session) -> None:
        request = load_request(db_session, context.request_id)
        if context.request_type is RequestType.OBJECTION:
            suppress(
                db_session=db_session,
                email=context.subject,
                reason=SuppressionReason.OBJECTION,
                now=context.now,
                key=key,
            )
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.SYSTEM,
            action=APPLIED_ACTION,
            at=context.now,
            details={"change": name, "rows": outcome.total, "tables": outcome.rows},
        )
        if name == "restriction":  # every recipient of their data stops processing it too
            tell_recipients(
                db_session,
                data_map,
                request,
                settings=context.settings,
                changed=erased_fields(data_map, restricted),
                disclosed=disclosed,
                occasion="restriction",
                what=RESTRICTED_WHAT,
                now=context.now,
            )
        _mail_change_done(
            db_session,
            request,
            description=description,
            now=context.now,
            dedup="change-done",
            answers=True,
        )

    return ExecutionResult(details={"change": name, "rows": outcome.total}, record=record)


def approved_values(db_session: Session, request_id: int) -> dict[tuple[str, str], str]:
    """Return the new values staff approved for a rectification, by (system, `table.column`)."""
    rows = db_session.exec(
        model_select(RectificationValue).where(RectificationValue.request_id == request_id)
    ).all()
    return {(row.system, row.column): row.new_value for row in rows}


def _execute_rectification(context: ExecutionContext) -> ExecutionResult:
    with db.transaction(context.engine) as db_session:
        values = approved_values(db_session, context.request_id)
    if not values:
        raise ExecutionFailed(
            N_(
                "No new value was approved: enter the corrected values on the request's page, "
                "then run it again."
            )
        )
    data_map = desk_map(context.settings)
    categories = sorted(
        {
            category_id
            for category_id, category in data_map.categories.items()
            for f in category.fields
            if ((f.system or category.system), f.column) in values
        }
    )
    try:
        systems = open_systems(context.settings, data_map).recheck_schema()
        location = locate_subject(
            data_map,
            systems,
            email_identity(data_map),
            context.subject,
            others=context.other_identities,
        )
        disclosed = subject_disclosures(data_map, systems, location)
        outcome = rectify_subject(data_map, systems, location, values)
    except ChangeRefused as error:
        raise ExecutionFailed(error.message) from None

    def record(db_session: Session) -> None:
        request = load_request(db_session, context.request_id)
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.SYSTEM,
            action=RECTIFIED_ACTION,
            at=context.now,
            details={
                "rows": outcome.total,
                "tables": outcome.rows,
                "old_values": outcome.old_values,
                "new_values": {f"{s}:{c}": v for (s, c), v in sorted(values.items())},
            },
        )
        tell_recipients(
            db_session,
            data_map,
            request,
            settings=context.settings,
            changed=set(values),
            disclosed=disclosed,
            occasion="rectification",
            what=RECTIFIED_WHAT,
            now=context.now,
        )
        columns = ", ".join(sorted(c for _, c in values))
        description = translations(request.language).gettext(
            "The following fields were corrected: %(columns)s."
        ) % {"columns": columns}
        _mail_change_done(
            db_session,
            request,
            description=description,
            now=context.now,
            dedup="change-done",
            answers=True,
        )

    return ExecutionResult(
        details={"rows": outcome.total, "fields": len(values), "categories": len(categories)},
        record=record,
    )


register_executor(RequestType.DEACTIVATION, _execute_change)
register_executor(RequestType.RESTRICTION, _execute_change)
register_executor(RequestType.OBJECTION, _execute_change)
register_executor(RequestType.RECTIFICATION, _execute_rectification)


# --- staff's operations after completion ---------------------------------------------------------


def _events(db_session: Session, request: DataRequest, action: str) -> list[RequestEvent]:
    return list(
        db_session.exec(
            model_select(RequestEvent)
            .where(RequestEvent.request_id == request.id, RequestEvent.action == action)
            .order_by(col(RequestEvent.sequence))
        ).all()
    )


CARRIED_OUT = frozenset({Status.READY_TO_SEND, Status.COMPLETED})
"""A change is applied once its request is ready to send, whether or not its email arrived."""


def _require(request: DataRequest, request_type: RequestType) -> None:
    if request.type is not request_type or request.status not in CARRIED_OUT:
        raise ChangeRefused(
            f"Only a carried out request of type {request_type.value} can be reversed this way."
        )


def reactivate(
    *,
    db_session: Session,
    request: DataRequest,
    settings: Mapping[str, Any],
    staff_label: str,
    reason: str,
    now: datetime,
) -> ChangeOutcome:
    """Reverse a completed deactivation at the person's request (`reason` says how they asked):
    apply the map's `reactivation` and audit it. Raise ChangeRefused or SystemUnavailable."""
    _require(request, RequestType.DEACTIVATION)
    if not (reason or "").strip():
        raise ChangeRefused("Say how the person asked for their account back.")
    outcome = change_subject(
        settings,
        request.subject_address,
        "reactivation",
        now=now,
        others=other_identities(db_session, request.id),
    )
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=REACTIVATED_ACTION,
        at=now,
        reason=reason.strip(),
        details={"change": "reactivation", "rows": outcome.total, "tables": outcome.rows},
    )
    description = _change(desk_map(settings), "reactivation").description
    _mail_change_done(
        db_session,
        request,
        description=description.get(request.language.value),
        now=now,
        dedup=f"reactivated:{now.isoformat()}",
    )
    db_session.flush()
    return outcome


def announce_restriction_lift(
    *,
    db_session: Session,
    request: DataRequest,
    settings: Mapping[str, Any],
    staff_label: str,
    reason: str,
    now: datetime,
) -> None:
    """Tell the person, before it happens, that their restriction will be lifted and why
    (Art. 18(3)); the lift itself is a later step. Raise ChangeRefused."""
    _require(request, RequestType.RESTRICTION)
    reason = (reason or "").strip()
    if not reason:
        raise ChangeRefused(
            "Give the reason for lifting the restriction: it is sent to the person."
        )
    if _events(db_session, request, LIFTED_ACTION):
        raise ChangeRefused("The restriction is already lifted.")
    _change(desk_map(settings), "lift_restriction")
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=LIFT_ANNOUNCED_ACTION,
        at=now,
        reason=reason,
    )
    _mail_change_done(
        db_session,
        request,
        kind=EmailKind.RESTRICTION_LIFT,
        description=reason,
        now=now,
        dedup=f"restriction-lift:{now.isoformat()}",
    )
    db_session.flush()


def lift_restriction(
    *,
    db_session: Session,
    request: DataRequest,
    settings: Mapping[str, Any],
    staff_label: str,
    now: datetime,
) -> ChangeOutcome:
    """Lift a restriction the person was told about beforehand: apply the map's
    `lift_restriction` and audit it. Raise ChangeRefused or SystemUnavailable."""
    _require(request, RequestType.RESTRICTION)
    if not _events(db_session, request, LIFT_ANNOUNCED_ACTION):
        raise ChangeRefused("Tell the person first: announce the lifting, then lift it.")
    if _events(db_session, request, LIFTED_ACTION):
        raise ChangeRefused("The restriction is already lifted.")
    data_map = desk_map(settings)
    others = other_identities(db_session, request.id)
    restricted, disclosed = subject_now(settings, data_map, request.subject_address, others)
    outcome = change_subject(
        settings, request.subject_address, "lift_restriction", now=now, others=others
    )
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=LIFTED_ACTION,
        at=now,
        details={"change": "lift_restriction", "rows": outcome.total, "tables": outcome.rows},
    )
    tell_recipients(
        db_session,
        data_map,
        request,
        settings=settings,
        changed=erased_fields(data_map, restricted),
        disclosed=disclosed,
        occasion="lifted restriction",
        what=LIFTED_WHAT,
        now=now,
    )
    db_session.flush()
    return outcome


def save_rectification_values(
    *,
    db_session: Session,
    request: DataRequest,
    data_map: DataMap,
    values: Mapping[tuple[str, str], str | None],
    staff_label: str,
    now: datetime,
) -> int:
    """Keep the new values staff approved per rectifiable field ((system, `table.column`) ->
    value; empty or None removes it); return how many are approved now. Raise ChangeRefused for
    a field the map does not mark rectifiable, or a request that is not a rectification."""
    if request.type is not RequestType.RECTIFICATION or request.status in (
        Status.COMPLETED,
        Status.READY_TO_SEND,
        Status.PROCESSING,
        Status.DENIED,
        Status.CANCELLED,
        Status.EXPIRED,
    ):
        raise ChangeRefused("New values can only be entered on an open rectification request.")
    if request.id is None:
        raise ValueError("the request has no id: flush it first")
    request_id = request.id
    allowed = rectifiable_fields(data_map)
    existing = {
        (row.system, row.column): row
        for row in db_session.exec(
            model_select(RectificationValue).where(RectificationValue.request_id == request.id)
        ).all()
    }
    for key, value in values.items():
        if key not in allowed:
            raise ChangeRefused(f"The field {key[1]} cannot be corrected through the desk.")
        text = (value or "").strip()
        row = existing.get(key)
        if not text:
            if row is not None:
                db_session.delete(row)
            continue
        if row is None:
            db_session.add(
                RectificationValue(
                    request_id=request_id,
                    system=key[0],
                    column=key[1],
                    new_value=text,
                    approved_by=staff_label,
                    approved_at=now,
                )
            )
        elif row.new_value != text:
            row.new_value, row.approved_by, row.approved_at = text, staff_label, now
    db_session.flush()
    count = len(approved_values(db_session, request_id))
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=RECTIFICATION_APPROVED_ACTION,
        at=now,
        details={"fields": count},
    )
    return count


def rectifiable_fields(data_map: DataMap) -> dict[tuple[str, str], str]:
    """Return the fields the map marks rectifiable: (system, `table.column`) -> category id."""
    return {
        (f.system or category.system, f.column): category_id
        for category_id, category in data_map.categories.items()
        for f in category.fields
        if f.rectifiable
    }


# --- objection as soon as the address is verified -----------------------------------------------


def apply_objection_now(
    *, db_session: Session, request: DataRequest, settings: Mapping[str, Any], now: datetime
) -> bool:
    """Honour an objection to marketing at once (R27): switch off the map's marketing fields and
    add the address to the suppression list, without waiting for review. Once applied, the
    request is ready to send (no longer to review nor refusable) and its email saying what was
    applied is its answer. A system that cannot be reached leaves an audit event saying so and
    the approval will apply it; return whether it was applied. The suppression entry, the status
    and the audit are in the caller's transaction."""
    suppress(
        db_session=db_session,
        email=request.subject_address,
        reason=SuppressionReason.OBJECTION,
        now=now,
        key=suppression_key(settings),
    )
    try:
        outcome = change_subject(
            settings,
            request.subject_address,
            "marketing_objection",
            now=now,
            others=other_identities(db_session, request.id),
        )
    except (ChangeRefused, SystemUnavailable) as error:
        reason = error.message if isinstance(error, ChangeRefused) else str(error)
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.SYSTEM,
            action=OBJECTION_PENDING_ACTION,
            at=now,
            reason=reason,
        )
        return False
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.SYSTEM,
        action=APPLIED_ACTION,
        at=now,
        details={"change": "marketing_objection", "rows": outcome.total, "tables": outcome.rows},
    )
    change = _change(desk_map(settings), "marketing_objection")
    change_status(
        db_session=db_session,
        request=request,
        action=Action.APPLY_AT_ONCE,
        actor=Actor.SYSTEM,
        at=now,
        details={"change": "marketing_objection", "rows": outcome.total},
    )
    _mail_change_done(
        db_session,
        request,
        description=change.description.get(request.language.value),
        now=now,
        dedup="change-done",
        answers=True,
    )
    return True


def objection_hook(db_session: Session, request: DataRequest, now: datetime) -> None:
    """Called by the requests service once an address is verified: apply an objection at once
    when OBJECTION_IMMEDIATE (default True) and the application is known."""
    if request.type is not RequestType.OBJECTION:
        return
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    settings = current_app.config
    if not settings.get("OBJECTION_IMMEDIATE", DEFAULTS["OBJECTION_IMMEDIATE"]):
        return
    apply_objection_now(db_session=db_session, request=request, settings=settings, now=now)
