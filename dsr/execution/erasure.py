"""Carry out an approved erasure request (Art. 17): plan it from the map, refuse what a foreign key
unknown to the map would block, execute it system by system, check that the locator finds nothing
left (R19), then certify it (R17), suppress the address (R28) and open the recipients' tasks (R25).

Each system's outcome is stored per request as soon as it is known, in its own transaction: a retry
runs only the systems not done yet, and the certificate tells every system's part. Audit events
and stored steps hold counts and the map's names, never values.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Executable, bindparam, delete, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dsr import db
from dsr.audit.models import append_action
from dsr.datamap import desk_map, open_systems
from dsr.dates import written_date
from dsr.disclosures.service import record_subject_disclosures
from dsr.execution.access import private_folder, request_folder, write_private
from dsr.execution.change_records import ErasureCertificate, ErasureSystemRun, SystemRunStatus
from dsr.execution.recipients import (
    ERASED_WHAT,
    erased_fields,
    open_recipient_tasks,
    recipients_to_tell,
)
from dsr.execution.runner import (
    ExecutionContext,
    ExecutionFailed,
    ExecutionResult,
    load_request,
    register_executor,
)
from dsr.execution.runs import ProgressReport
from dsr.execution.targets import ChangeRefused, email_identity
from dsr.execution.targets import secret_key as pseudonymisation_key
from dsr.holds.erasure import erasure_under_holds, remember_kept_rows
from dsr.holds.models import LegalHold
from dsr.holds.service import active_holds
from dsr.languages import N_, staff_language, translations
from dsr.links import public_url_for_settings
from dsr.mentions.service import Place, confirmed_found, decisions
from dsr.requests.emails import EmailKind
from dsr.requests.jobs import closed_request_kept_until, closed_request_retention_days
from dsr.requests.models import DataRequest
from dsr.requests.service import mail_requester
from dsr.requests.workflow import Actor, RequestType
from dsr.suppression.models import SuppressionReason
from dsr.suppression.service import suppress, suppression_key
from dsr.tokens import token_digest
from exports.certificate import (
    CategoryOutcome,
    CertifiedRequest,
    ErasedStep,
    category_outcomes,
    certificate_summary,
    render_erasure_certificate,
)
from inventory.anonymisation import ErasurePlanError
from inventory.erasure import (
    ErasurePlan,
    PlannedStep,
    execute_erasure,
    plan_erasure,
    systems_to_change,
    verify_erased,
)
from inventory.locator import locate_subject
from inventory.mentions import erase_mentions, subject_full_names
from inventory.model import DataMap, ErasureAction
from inventory.phrases import Phrase, joined, said
from inventory.pool import for_reading
from inventory.systems import Systems

ERASED_ACTION = "erasure_applied"
CERTIFICATE_NAME = "{reference}-erasure-certificate.pdf"


def subject_plan(
    data_map: DataMap, systems: Systems, email: str, others: Sequence[tuple[str, str]] = ()
) -> ErasurePlan:
    """Locate the subject by email and return the plan of their erasure (nothing is changed);
    pass the map with the request's legal holds (`dsr.holds.service.map_with_holds`)."""
    location = locate_subject(data_map, systems, email_identity(data_map), email, others=others)
    return plan_erasure(data_map, systems, location)


def steps_json(data_map: DataMap, steps: Sequence[PlannedStep]) -> str:
    """Return the steps as stored: category, table, action and rows, no values; of kept rows,
    how many were taken out of use and the last day each is kept. Rows kept only because they
    are other people's (their messages in a shared thread) are not the subject's data and are
    left out."""
    return json.dumps(
        [
            {
                "category": step.category,
                "table": step.table,
                "action": ErasureAction(step.action).value,
                "rows": step.row_count,
                "withdrawn": step.withdrawn,
                "kept_until": [d.isoformat() if d else None for d in step.kept_until],
                # a shared row's side, or a mention of the subject in another's row (issue 20)
                **({"kind": step.kind, "columns": sorted(step.new_values)} if step.kind else {}),
            }
            for step in steps
            if not (
                step.action is ErasureAction.RETAIN
                and step.category in data_map.categories
                and data_map.categories[step.category].erasure.action is not ErasureAction.RETAIN
            )
        ],
        sort_keys=True,
        separators=(",", ":"),
    )


def stored_steps(runs: Sequence[ErasureSystemRun]) -> list[ErasedStep]:
    """Return what the done systems erased, from their stored steps."""
    steps = []
    for run in runs:
        if run.status is not SystemRunStatus.DONE:
            continue
        for item in json.loads(run.steps or "[]"):
            steps.append(
                ErasedStep(
                    category=str(item["category"]),
                    table=str(item["table"]),
                    action=ErasureAction(item["action"]),
                    rows=int(item["rows"]),
                    withdrawn=int(item.get("withdrawn", 0)),
                    kept_until=tuple(
                        date.fromisoformat(d) if d else None for d in item.get("kept_until", [])
                    ),
                    kind=str(item.get("kind", "")),
                    columns=tuple(item.get("columns", [])),
                )
            )
    return steps


def system_runs(db_session: Session, request_id: int) -> list[ErasureSystemRun]:
    """Return the request's per-system outcomes, by system, as read (not tracked by the session:
    every erasure run reads them as it starts, most find none, and an ORM query's set-up cost
    more than its statement)."""
    rows = db_session.execute(_system_runs(), {"p_request": request_id})
    return [ErasureSystemRun(**row._mapping) for row in rows]


@cache
def _system_runs() -> Executable:
    table = db.table_of(ErasureSystemRun)
    return (
        table.select().where(table.c.request_id == bindparam("p_request")).order_by(table.c.system)
    )


def _store_run(
    engine: Engine,
    request_id: int,
    *,
    system: str,
    status: SystemRunStatus,
    steps: str,
    counts: tuple[int, int, int],
    error: str | None,
    now: datetime,
    report: Callable[[Connection], None],
    first: bool = False,
) -> ErasureSystemRun:
    """Store one system's outcome and return its record as stored (a done one stays as it was);
    `report` writes the run's progress in the same transaction.

    In Core: a SELECT, then an INSERT or an UPDATE (the ORM's unit of work cost more than the
    statements). `first`: the run found no outcome of this system when it started, so it is
    added without looking; one added meanwhile (by a worker that took the run over) makes the
    INSERT fail, and it is then looked up as usual."""
    find, add, change = _run_statements()
    run = ErasureSystemRun(
        request_id=request_id,
        system=system,
        status=status,
        rows_deleted=counts[0],
        rows_anonymized=counts[1],
        rows_retained=counts[2],
        steps=steps,
        error=(error or None) and error[:500],
        updated_at=now,
    )
    values = {f"p_{name}": getattr(run, name) for name in _OUTCOME_COLUMNS}
    if first:
        try:
            with engine.begin() as connection:
                connection.execute(add, {**values, "p_request": request_id, "p_system": system})
                report(connection)
            return run
        except IntegrityError:
            pass  # stored meanwhile: as below
    with engine.begin() as connection:
        found = connection.execute(find, {"p_request": request_id, "p_system": system}).first()
        if found is not None and found.status is SystemRunStatus.DONE:
            report(connection)
            return ErasureSystemRun(**found._mapping)  # final: it tells the certificate what went
        if found is None:
            connection.execute(add, {**values, "p_request": request_id, "p_system": system})
        else:
            connection.execute(change, {**values, "p_id": found.id})
        report(connection)
    return run


@cache
def _run_statements() -> tuple[Executable, Executable, Executable]:
    """A system's outcome found, added, changed: statements built once (their parameters named
    apart from the columns, which SQLAlchemy keeps for itself)."""
    table = db.table_of(ErasureSystemRun)
    values = {name: bindparam(f"p_{name}", type_=table.c[name].type) for name in _OUTCOME_COLUMNS}
    request_id = bindparam("p_request", type_=table.c.request_id.type)
    system = bindparam("p_system", type_=table.c.system.type)
    return (
        table.select().where(table.c.request_id == request_id, table.c.system == system),
        insert(table).values(**values, request_id=request_id, system=system),
        update(table).where(table.c.id == bindparam("p_id")).values(**values),
    )


_OUTCOME_COLUMNS = (
    "status",
    "rows_deleted",
    "rows_anonymized",
    "rows_retained",
    "steps",
    "error",
    "updated_at",
)
"""What `_store_run` writes of a system's outcome."""


def _reporting(
    progress: ProgressReport, system: str, state: str, rows: int | None, reason: str | None = None
) -> Callable[[Connection], None]:
    """Return what writes this report of the run's progress in a given transaction."""
    return lambda connection: progress(system, state, rows, reason, within=connection)


def _refuse_blocked(blocked: Sequence[str]) -> None:
    """Fail the run, naming what blocks the erasure, when something does."""
    if blocked:
        raise ExecutionFailed(
            N_("Erasure blocked, nothing changed: %(blocked)s"), blocked=joined(blocked)
        )


@dataclass(frozen=True, slots=True)
class _Before:
    """What an erasure run reads of the store before it changes anything: the systems a previous
    run finished, staff's decisions on mentions, the legal holds in force."""

    stored: dict[str, ErasureSystemRun]
    decided: dict[Place, bool]
    holds: list[LegalHold]


def _read_before(db_session: Session, request: DataRequest, now: datetime) -> _Before:
    """Read what the run needs before it changes anything (in the transaction that starts it)."""
    request_id = request.id
    if request_id is None:  # a request being run is stored
        raise ValueError("the request has no id")
    return _Before(
        stored={run.system: run for run in system_runs(db_session, request_id)},
        decided=decisions(db_session, request_id),
        holds=active_holds(db_session, request_id, now),
    )


def run_erasure(context: ExecutionContext) -> ExecutionResult:
    """Erase the requester's data as the map plans it; raise ExecutionFailed naming what stopped
    it (a blocking constraint, a system that failed, data still found)."""
    settings, now, request_id = context.settings, context.now, context.request_id
    try:
        data_map = desk_map(settings)
        identity = email_identity(data_map)
        key = pseudonymisation_key(settings)
        suppression = suppression_key(settings)
        address_days = closed_request_retention_days(settings)
    except ChangeRefused as error:
        raise ExecutionFailed(error.message) from None
    except ValueError as error:
        raise ExecutionFailed(str(error)) from None
    before = context.prepared  # read by `_read_before` as the runner started processing
    if not isinstance(before, _Before):
        raise TypeError("an erasure runs from the runner, which prepares it (_read_before)")
    stored = dict(before.stored)
    decided = before.decided if data_map.mentions is not None else {}
    holds = before.holds
    done = {system for system, run in stored.items() if run.status is SystemRunStatus.DONE}
    for system in sorted(done):  # a resumed run: these are not touched again
        run = stored[system]
        context.progress(system, "done", run.rows_deleted + run.rows_anonymized)
    systems = open_systems(settings, data_map).recheck_schema()
    location = locate_subject(
        data_map, systems, identity, context.subject, others=context.other_identities
    )
    record_subject_disclosures(  # before the rows go: a retry still knows whom to tell
        context.engine,
        data_map,
        systems,
        location,
        email=context.subject,
        key=suppression,
        now=now,
    )
    # Issue 20: the texts of others naming the person, as staff confirmed, while the name is
    # still on their rows; changed before the systems' erasure, so that a retry finds them done.
    confirmed = confirmed_found(decided, data_map, systems, location)
    names = subject_full_names(data_map, systems, location) if confirmed else []
    mentions = erase_mentions(data_map, systems, confirmed, names)
    held = erasure_under_holds(data_map, systems, holds, location)
    data_map = held.data_map  # categories under a legal hold are kept (R50)
    pending = [system for system in data_map.systems if system not in done]
    changing = [s for s in systems_to_change(data_map, location) if s in pending]
    if len(changing) > 1:  # refuse before any system changes (each plans again when run)
        try:
            _refuse_blocked(plan_erasure(data_map, systems, location).blocked)
        except ErasurePlanError as error:  # the map asks what a system cannot hold
            raise ExecutionFailed(error.phrase.template, **error.phrase.parts) from None
    # One system to change: one call, whose own plan refuses it before anything changes
    # anywhere. Several: one call per system, each stored and reported as soon as it ends
    # (a worker that takes the run over skips those done).
    batches = [[system] for system in pending] if len(changing) > 1 else [pending]
    staff = translations(staff_language(settings))
    failed = []
    for batch in batches if pending else []:
        for system in batch:
            context.progress(system, "running", None)
        outcomes = execute_erasure(
            data_map, systems, location, secret_key=key, now=now, only_systems=batch
        )
        if len(changing) == 1:  # its own plan refused it: nothing changed anywhere
            _refuse_blocked([b for outcome in outcomes for b in outcome.blocked])
        for outcome in outcomes:
            if outcome.status == "skipped":
                continue
            status = SystemRunStatus(outcome.status)
            # What staff read of a system's failure (its record, the run's progress) is in
            # their language; the run's failure reason says it when it is recorded.
            shown = said(outcome.error, staff.gettext) if outcome.error else None
            if status is SystemRunStatus.FAILED:
                failed.append(
                    Phrase(
                        "%(system)s: %(error)s",
                        system=outcome.system,
                        error=outcome.error or "error",
                    )
                )
                report = _reporting(
                    context.progress, outcome.system, "failed", None, shown or "error"
                )
            else:
                rows = outcome.rows_deleted + outcome.rows_anonymized
                report = _reporting(context.progress, outcome.system, "done", rows)
            run = _store_run(
                context.engine,
                request_id,
                system=outcome.system,
                status=status,
                steps=steps_json(data_map, outcome.steps),
                counts=(outcome.rows_deleted, outcome.rows_anonymized, outcome.rows_retained),
                error=shown,
                now=now,
                report=report,
                first=outcome.system not in before.stored,
            )
            stored[run.system] = run
    if failed:
        raise ExecutionFailed(
            N_(
                "Erasure failed, rolled back in %(failed)s. Run it again to finish: systems "
                "already done are not touched again."
            ),
            failed=joined(failed),
        )
    left = verify_erased(
        data_map, systems, identity, context.subject, others=context.other_identities
    )
    if left:
        raise ExecutionFailed(
            N_("Data still found after the erasure (R19): %(left)s"), left="; ".join(left)
        )

    runs = [stored[system] for system in sorted(stored)]  # as `system_runs` reads them
    erased_steps = stored_steps(runs)
    outcomes_by_category = category_outcomes(data_map, erased_steps)
    shared = [step for step in erased_steps if step.kind and step.rows > 0]
    affected = [o.category for o in outcomes_by_category if o.action is not ErasureAction.RETAIN]
    affected += [s.category for s in shared if s.kind == "side" and s.category not in affected]
    with context.engine.connect() as store:  # one read: no session, no transaction needed
        concerned = recipients_to_tell(
            for_reading(store),
            data_map,
            email=context.subject,
            key=suppression,
            changed=erased_fields(data_map, affected),
            erasure=True,
        )
    address_kept_until = closed_request_kept_until(now, address_days)
    path = _write_certificate(
        context,
        data_map,
        outcomes_by_category,
        [c.recipient for c in concerned],
        address_kept_until,
        shared,
        (mentions.redacted, mentions.deleted),
    )
    token = secrets.token_urlsafe(32)
    url = public_url_for_settings(settings, "certificate.download", token=token)
    totals = {
        "rows_deleted": sum(run.rows_deleted for run in runs),
        "rows_anonymized": sum(run.rows_anonymized for run in runs),
        "rows_retained": sum(run.rows_retained for run in runs),
        "rows_withdrawn": sum(o.withdrawn for o in outcomes_by_category),
        "systems": len(runs),
        "mentions_redacted": mentions.redacted,
        "mentions_deleted": mentions.deleted,
    }

    summary = certificate_summary(  # written before the transaction that holds the audit chain
        data_map, outcomes_by_category, context.language.value, translations(context.language)
    )

    def record(db_session: Session) -> None:
        request = load_request(db_session, request_id)
        if held.kept:  # no hold was active when the erasure ran: none to remember rows on
            remember_kept_rows(db_session, request_id, held, now)
        suppress(
            db_session=db_session,
            email=context.subject,
            reason=SuppressionReason.ERASURE,
            now=now,
            key=suppression,
        )
        tasks = open_recipient_tasks(
            db_session,
            data_map,
            request,
            concerned,
            occasion="erasure",
            what=ERASED_WHAT,
            now=now,
            subject_identity=context.subject,
            settings=context.settings,
        )
        forget, add = _certificate_statements()  # one per request: a retry's replaces
        db_session.execute(forget, {"p_request": request_id})
        db_session.execute(
            add,
            {
                "request_id": request_id,
                "path": str(path),
                "token_hash": token_digest(token),
                "created_at": now,
            },
        )
        append_action(  # as record_action, without the event object nothing here reads
            db_session=db_session,
            request=request,
            actor=Actor.SYSTEM,
            action=ERASED_ACTION,
            at=now,
            details={**totals, "recipient_tasks": tasks},
        )
        mail_requester(
            db_session,
            request,
            EmailKind.ERASURE_DONE,
            dedup_key=f"erasure-done:{request.id}",
            now=now,
            answers=True,  # its delivery completes the request (R47)
            done_on=written_date(now, request.language, request.zone),
            summary=summary,
            certificate_url=url,
            address_kept_until=written_date(address_kept_until, request.language, request.zone),
        )
        db_session.flush()

    return ExecutionResult(details=totals, record=record)


@cache
def _certificate_statements() -> tuple[Executable, Executable]:
    certificates = db.table_of(ErasureCertificate)
    return (
        delete(certificates).where(certificates.c.request_id == bindparam("p_request")),
        insert(certificates),
    )


def _write_certificate(
    context: ExecutionContext,
    data_map: DataMap,
    outcomes: Sequence[CategoryOutcome],
    told: Sequence[str],
    address_kept_until: datetime,
    shared: Sequence[ErasedStep] = (),
    mentions_erased: tuple[int, int] = (0, 0),
) -> Path:
    pdf = render_erasure_certificate(
        data_map,
        CertifiedRequest(
            reference=context.reference,
            received_at=context.received_at,
            completed_at=context.now,
            language=context.language.value,
            address_kept_until=address_kept_until,
            made_for=context.made_for,
        ),
        outcomes,
        told,
        translations(context.language),
        shared=shared,
        mentions_erased=mentions_erased,
    )
    folder = request_folder(context.settings, context.request_id)
    private_folder(folder.parent)
    private_folder(folder)
    path = folder / CERTIFICATE_NAME.format(reference=context.reference)

    def write(out: BinaryIO) -> None:
        out.write(pdf)

    write_private(path, write)
    return path


register_executor(RequestType.ERASURE, run_erasure, prepare=_read_before)
