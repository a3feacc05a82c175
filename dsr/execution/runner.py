"""Run an approved request: move it to processing, run the executor of its type, then make it
ready to send or fail it with a reason made for staff. It is completed later, when the email that
carries its answer is delivered (dsr.requests.answers), not by the run.

Each step is its own short transaction; the executor runs between them, outside any transaction
of the store, and may take its own. A failed request can be run again: the retry starts clean
(what a previous run left behind is the executor's to discard). Executors register per type of
request with `register_executor`; access and portability are registered by dsr.execution.access.

A run is held under a lease in the store (dsr.execution.runs), renewed while the executor works:
a request left processing by a worker that died is taken over once the lease runs out, by one
worker only, and only the holder of the run may end it, so nothing is finished twice. Runs are
started on workers (dsr.worker), never in a web request.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from dsr import db
from dsr.audit.models import RequestEvent, record_action
from dsr.config import DEFAULTS
from dsr.execution.runs import (
    LeaseKeeper,
    ProgressReport,
    hold_fresh_run,
    new_claim,
    progress_recorder,
    release_run,
    take_over_run,
)
from dsr.languages import N_, Language, staff_language, translations
from dsr.requests.identities import other_identities
from dsr.requests.models import DataRequest
from dsr.requests.representation import made_for
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, Refusal, RequestType, Status, WorkflowError
from exports.made_for import MadeFor
from inventory.systems import SystemUnavailable

log = logging.getLogger(__name__)

REASON_MAX = 500
"""A failure's reason is shown to staff and audited: one line, bounded."""
RESUMED_ACTION = "processing_resumed"
"""Audited when a worker takes over a run whose worker's lease ran out."""


def _no_progress(
    system: str,
    state: str,
    rows: int | None,
    reason: str | None = None,
    *,
    within: Connection | None = None,
) -> None:
    """Report nothing (a context built without a run behind it)."""


class ExecutionFailed(Refusal):
    """A run that cannot be done; its message is shown to staff (no personal data in it), in the
    language they read (`said`: its message id is translated when the failure is recorded)."""


class RequestNotRunnable(Exception):
    """The request cannot be run now (unknown, or not approved nor failed); `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RunTakenOver(RequestNotRunnable):
    """Another worker holds (or took over) this run: this one records nothing."""


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """What an executor is given: the store, the request as it stood when processing started,
    the settings (the application's configuration) and the time of the run; `progress`
    reports each system of the map as it runs (see dsr.execution.runs.ProgressReport)."""

    engine: Engine
    request_id: int
    reference: str
    request_type: RequestType
    requester_email: str
    language: Language
    received_at: datetime
    rectification_details: str | None
    settings: Mapping[str, Any]
    now: datetime
    progress: ProgressReport = _no_progress
    claim: str = ""
    # The person the request is for (R45) and their other identities staff added: what the
    # locator is given. The requester's own address stays where the answer goes.
    subject_email: str = ""
    other_identities: tuple[tuple[str, str], ...] = ()
    made_for: MadeFor | None = None
    # What the executor's preparation read in the transaction that started processing (see
    # `register_executor`); None for a type without one.
    prepared: object = None

    @property
    def subject(self) -> str:
        """The address the subject is located by: theirs, or the requester's when the same."""
        return self.subject_email or self.requester_email


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What an executor did: `details` are audited with the end of processing (counts, never
    personal data); `record`, if given, writes its rows (and queues the answer email) in that
    transaction."""

    details: Mapping[str, object] = field(default_factory=dict)
    record: Callable[[Session], None] | None = None


Executor = Callable[[ExecutionContext], ExecutionResult]
Preparation = Callable[[Session, DataRequest, datetime], object]
"""What an executor reads of the store before it changes anything: run with the request, in the
transaction that starts processing (one transaction fewer per run, and what it reads is as the run
found it when it took the request); what it returns is the context's `prepared`. Only reads: a
failure here leaves the request as it was, not failed."""

EXECUTORS: dict[RequestType, Executor] = {}
"""The executor of each type of request; a type without one is carried out by hand."""
PREPARATIONS: dict[RequestType, Preparation] = {}


def register_executor(
    request_type: RequestType, executor: Executor, *, prepare: Preparation | None = None
) -> Executor:
    """Make `executor` carry out the requests of `request_type`, with `prepare` reading what it
    needs of the store when processing starts; return it (usable as a decorator's body)."""
    EXECUTORS[RequestType(request_type)] = executor
    if prepare is None:
        PREPARATIONS.pop(RequestType(request_type), None)
    else:
        PREPARATIONS[RequestType(request_type)] = prepare
    return executor


def has_executor(request_type: RequestType) -> bool:
    _load_executors()
    return RequestType(request_type) in EXECUTORS


EXECUTOR_MODULES: tuple[str, ...] = (
    "dsr.execution.access",
    "dsr.execution.changes",
    "dsr.execution.erasure",
    "dsr.execution.objection",
)
"""The modules that register executors when imported."""


def _load_executors() -> None:
    """Import the modules that register executors (importing twice costs nothing)."""
    for name in EXECUTOR_MODULES:
        importlib.import_module(name)


def reports_dir(settings: Mapping[str, Any]) -> Path:
    """Return the folder of the reports: REPORTS_DIR, else `reports/` in the instance folder."""
    configured = settings.get("REPORTS_DIR")
    if configured:
        return Path(str(configured))
    instance = settings.get("INSTANCE_PATH")
    if not instance:
        raise RuntimeError("set REPORTS_DIR or INSTANCE_PATH to say where reports are kept")
    return Path(str(instance)) / "reports"


def app_settings(config: Mapping[str, Any], instance_path: str) -> dict[str, Any]:
    """Return the settings a run reads, from an application's configuration."""
    return {**DEFAULTS, **config, "INSTANCE_PATH": instance_path}


def lease_seconds(settings: Mapping[str, Any]) -> float:
    """Return how long a run's lease lasts unless renewed (WORKER_LEASE_SECONDS)."""
    value = settings.get("WORKER_LEASE_SECONDS")
    return float(DEFAULTS["WORKER_LEASE_SECONDS"] if value in (None, "") else value)


def run_request(
    *,
    engine: Engine,
    request_id: int,
    settings: Mapping[str, Any],
    now: datetime,
    staff_label: str | None = None,
) -> Status:
    """Carry out an approved (or failed, to retry) request and return the status it ends in.

    Processing starts in one transaction (by the system, or by the staff member `staff_label`),
    the executor runs under a renewed lease, and the request is made ready to send (its answer
    email queued by the executor's `record`) or failed in another. A request left processing
    whose lease ran out is taken over. Raise `RequestNotRunnable` when the request is unknown,
    has no executor, is in another status, or another worker holds its run (`RunTakenOver`).
    """
    _load_executors()
    actor = Actor.STAFF if staff_label else Actor.SYSTEM
    seconds = lease_seconds(settings)
    context = _start(engine, request_id, settings=settings, now=now, actor=actor, label=staff_label)
    executor = EXECUTORS[context.request_type]
    staff = translations(staff_language(settings))
    with LeaseKeeper(engine, request_id, claim=context.claim, seconds=seconds) as lease:
        try:
            result = executor(context)
        except SystemUnavailable as error:
            lease.ending()
            return _fail(context, str(error), actor=actor, label=staff_label)
        except ExecutionFailed as error:
            lease.ending()
            return _fail(context, error.said(staff.gettext), actor=actor, label=staff_label)
        except Exception as error:  # a bug must still leave the request failed, not processing
            log.exception("executing request %s failed", request_id)
            reason = staff.gettext("internal error (%(kind)s): see the server's log") % {
                "kind": type(error).__name__
            }
            lease.ending()
            return _fail(context, reason, actor=actor, label=staff_label)
        lease.ending()
        return _complete(context, result, actor=actor, label=staff_label)


def load_request(db_session: Session, request_id: int) -> DataRequest:
    """Return the request an executor carries out; ExecutionFailed if it was deleted meanwhile."""
    request = db_session.get(DataRequest, request_id)
    if request is None:
        raise ExecutionFailed(N_("The request %(id)s no longer exists."), id=str(request_id))
    return request


_LOAD = select(DataRequest).where(DataRequest.id == bindparam("p_id"))
"""The request a run loads as it starts and ends (a statement built once)."""


def _load(db_session: Session, request_id: int) -> DataRequest:
    found = db_session.exec(_LOAD, params={"p_id": request_id}).one_or_none()
    if found is None:
        raise RequestNotRunnable(f"There is no request with id {request_id}.")
    return found


def _start(
    engine: Engine,
    request_id: int,
    *,
    settings: Mapping[str, Any],
    now: datetime,
    actor: Actor,
    label: str | None,
) -> ExecutionContext:
    claim = new_claim()
    until = now + timedelta(seconds=lease_seconds(settings))
    try:
        with db.transaction(engine) as db_session:
            request = _load(db_session, request_id)
            if request.type not in EXECUTORS:
                raise RequestNotRunnable(
                    f"Requests of type {request.type.value} are carried out by hand: nothing "
                    "to run."
                )
            if not request.has_address:  # a letter or a call without one (R44)
                raise RequestNotRunnable(
                    f"{request.reference} has no email address, by which the desk finds a "
                    "person's data: it is carried out by hand."
                )
            if request.status is Status.PROCESSING:
                # Its worker died (or stopped) with the run in hand: take it over once its
                # lease ran out, and only if no other worker did first.
                if not take_over_run(db_session, request_id, claim=claim, until=until, now=now):
                    raise RunTakenOver(f"{request.reference} is being run by another worker.")
                record_action(
                    db_session=db_session,
                    request=request,
                    actor=actor,
                    action=RESUMED_ACTION,
                    at=now,
                    actor_label=label,
                )
            elif request.status in (Status.APPROVED, Status.FAILED):
                try:
                    change_status(
                        db_session=db_session,
                        request=request,
                        action=Action.START_PROCESSING,
                        actor=actor,
                        at=now,
                        actor_label=label,
                    )
                    db_session.flush()  # versioned: of two workers, the second's flush fails
                except WorkflowError as error:
                    raise RequestNotRunnable(error.message) from None
                hold_fresh_run(db_session, request_id, claim=claim, until=until, now=now)
            else:
                raise RequestNotRunnable(
                    f"Only an approved or failed request can be run; {request.reference} is "
                    f"{request.status.value}."
                )
            prepare = PREPARATIONS.get(request.type)
            return ExecutionContext(
                engine=engine,
                request_id=request_id,
                reference=request.reference,
                request_type=request.type,
                requester_email=request.requester_email,
                language=request.language,
                received_at=request.received_at,
                rectification_details=request.rectification_details,
                settings=settings,
                now=now,
                progress=progress_recorder(engine, request_id),
                claim=claim,
                subject_email=request.subject_address,
                other_identities=other_identities(db_session, request_id),
                made_for=made_for(request),
                prepared=None if prepare is None else prepare(db_session, request, now),
            )
    except StaleDataError:
        raise RunTakenOver(f"The request {request_id} was started by another worker.") from None


def _complete(
    context: ExecutionContext,
    result: ExecutionResult,
    *,
    actor: Actor,
    label: str | None,
) -> Status:
    with db.transaction(context.engine) as db_session:
        request = _load(db_session, context.request_id)
        if request.status is not Status.PROCESSING or not release_run(
            db_session, context.request_id, claim=context.claim
        ):
            raise RunTakenOver(f"{request.reference}: another worker took this run over.")
        record = result.record
        change_status(
            db_session=db_session,
            request=request,
            action=Action.FINISH_PROCESSING,
            actor=actor,
            at=context.now,
            actor_label=label,
            details=dict(result.details),
            also=None if record is None else lambda _fact: record(db_session),
        )
    return Status.READY_TO_SEND


def _fail(
    context: ExecutionContext,
    reason: str,
    *,
    actor: Actor,
    label: str | None,
) -> Status:
    reason = " ".join(reason.split())[:REASON_MAX] or "unknown error"
    with db.transaction(context.engine) as db_session:
        request = _load(db_session, context.request_id)
        if request.status is not Status.PROCESSING or not release_run(
            db_session, context.request_id, claim=context.claim
        ):
            raise RunTakenOver(f"{request.reference}: another worker took this run over.")
        change_status(
            db_session=db_session,
            request=request,
            action=Action.FAIL,
            actor=actor,
            at=context.now,
            reason=reason,
            actor_label=label,
        )
    return Status.FAILED


def failure_reason(db_session: Session, request: DataRequest) -> str | None:
    """Return why the request's last run failed, while it is failed."""
    if request.status is not Status.FAILED:
        return None
    event = db_session.exec(
        select(RequestEvent)
        .where(RequestEvent.request_id == request.id, RequestEvent.action == Action.FAIL.value)
        .order_by(col(RequestEvent.sequence).desc())
        .limit(1)
    ).one_or_none()
    return event.reason if event is not None else None
