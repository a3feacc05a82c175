"""Deletion of the requests whose address was never verified (issue 18, R32).

Such a request may carry someone else's address: once DSR_UNVERIFIED_RETENTION_DAYS have passed
since its receipt (it has expired or been cancelled by then), `delete_unverified` deletes
everything attached to it (emails sent or not, tokens, tasks, callbacks, reports...) rather than
keep it five years as a closed request.

Why a stub rather than deleting the row: the audit events of the request name it by a foreign
key (`dsr_request_event.request_id`) and their hashes cover that id, so neither the events nor
their reference can go without breaking the chain or the key. The row stays, emptied of every
personal column (address, message, details, tokens, free texts) and marked deleted by
`DELETED_ADDRESS`; only what proves the desk handled it remains (reference, type, dates,
status) beside its events, whose personal content is deleted (their digests stay chained), and a
last event records the deletion (the counts of rows deleted per table, nothing else).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from dsr import db, store_models
from dsr.audit.models import RequestEvent, record_action, remove_content
from dsr.delivery.models import Report
from dsr.delivery.service import discard_files
from dsr.requests.jobs import MINIMISED_DOMAIN
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, Actor
from dsr.scheduler.runs import JobOutcome, SchedulerSettings, each_item

DELETED_ADDRESS = f"deleted@{MINIMISED_DOMAIN}"
"""The address of a deleted request: nothing of the real one is kept, not even a digest (and
minimisation, which skips its domain, leaves it alone)."""
DELETE_ACTION = "delete_unverified"
KEPT_REFERENCES = frozenset(
    {
        (db.table_of(RequestEvent).name, "request_id"),
        (db.table_of(DataRequest).name, "group_id"),
    }
)
"""(table, column) referring to a request that its deletion keeps: the audit chain, and the other
parts of its submission (issue 19), each a request of its own that keeps its row (a stub when
deleted in turn)."""


def delete_unverified(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Delete what is attached to each closed request never verified and received more than
    the period ago, and empty its row (see the module's docstring); audited."""
    cutoff = now - timedelta(days=settings.records.unverified_days)
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(DataRequest.id)
                .where(col(DataRequest.verified_at).is_(None))
                .where(col(DataRequest.status).in_(list(TERMINAL)))
                .where(col(DataRequest.received_at) <= cutoff)
                .where(col(DataRequest.requester_email) != DELETED_ADDRESS)
                .order_by(col(DataRequest.id))
            ).all()
        )

    def delete_one(request_id: int) -> bool:
        with db.transaction(engine) as db_session:
            request = db_session.get(DataRequest, request_id)
            if (
                request is None
                or request.verified_at is not None
                or request.status not in TERMINAL
                or request.requester_email == DELETED_ADDRESS
            ):
                return False
            rows = delete_attached(db_session, request_id)
            remove_content(db_session=db_session, request=request, at=now)  # its events' texts
            request.requester_email = request.normalized_email = DELETED_ADDRESS
            request.message = request.rectification_details = request.extension_reason = None
            request.contact_details = None
            request.verification_nonce = request.status_token_hash = None
            record_action(
                db_session=db_session,
                request=request,
                actor=Actor.SYSTEM,
                action=DELETE_ACTION,
                at=now,
                details={"rows": dict(sorted(rows.items()))},
            )
            return True

    each_item(DELETE_ACTION, outcome, ids, delete_one)


def referring(table: Table) -> list[tuple[Table, str, str]]:
    """Return every (table, column, referred column) of the store whose foreign key refers to
    `table`, but those of `KEPT_REFERENCES`."""
    found = []
    for other in SQLModel.metadata.sorted_tables:
        for key in other.foreign_keys:
            if key.column.table is table and (other.name, key.parent.name) not in KEPT_REFERENCES:
                found.append((other, key.parent.name, key.column.name))
    return found


def delete_attached(db_session: Session, request_id: int) -> Counter[str]:
    """Delete every row that refers to the request, and the rows referring to those, whatever
    table holds them (a table added later is covered too), and the report files; return the
    count of rows deleted per table."""
    discard_files(
        list(db_session.exec(select(Report.path).where(Report.request_id == request_id)).all())
    )
    store_models.import_models()  # every table, whichever modules this process imported
    counts: Counter[str] = Counter()
    requests = db.table_of(DataRequest)
    for table, column, _id in referring(requests):
        _delete_rows(db_session, table, table.c[column] == request_id, counts)
    return counts


def _delete_rows(
    db_session: Session, table: Table, where: ColumnElement[bool], counts: Counter[str]
) -> None:
    for child, column, referred in referring(table):
        chosen = select(table.c[referred]).where(where)
        _delete_rows(db_session, child, child.c[column].in_(chosen), counts)
    deleted = db_session.execute(delete(table).where(where)).rowcount  # type: ignore[attr-defined]
    if deleted:
        counts[table.name] += deleted
