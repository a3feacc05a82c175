"""The store keeps how many requests are in each terminal status (`dsr.requests.closed_counts`):
whatever way a request enters or leaves one (filed in it, moved by the ORM or by a plain UPDATE,
deleted), the kept count is the count of the rows, before and after the deltas are folded, on
every engine, at the newest revision (a later migration that rebuilt `dsr_request` without its
triggers fails here)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsr import db
from dsr.requests.closed_counts import (
    ClosedCount,
    ClosedCountDelta,
    closed_count,
    fold_closed_counts,
)
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, Status
from tests import factories

REQUESTS = db.table_of(DataRequest)


def kept(session: Session) -> dict[Status, int]:
    """The counts as the store keeps them, read in one statement as the queue reads them."""
    statuses = sorted(TERMINAL)
    row = session.execute(select(*(closed_count(status) for status in statuses))).one()
    return dict(zip(statuses, row, strict=True))


def counted(session: Session) -> dict[Status, int]:
    """The counts of the rows themselves."""
    found = Counter(
        dict(
            session.execute(
                select(REQUESTS.c.status, func.count()).group_by(REQUESTS.c.status)
            ).all()
        )
    )
    return {status: found[status.value] for status in sorted(TERMINAL)}


def pending(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ClosedCountDelta)).scalar_one()


def test_every_terminal_status_has_its_total(session: Session) -> None:
    totals = dict(session.execute(select(ClosedCount.status, ClosedCount.total)).all())
    assert totals == {status.value: 0 for status in TERMINAL}


def test_the_kept_counts_are_the_rows_counts_whatever_moves_them(session: Session) -> None:
    made = {
        status: [
            factories.make_request(session, status=status, audited=False) for _ in range(count)
        ]
        for status, count in (
            (Status.RECEIVED, 3),
            (Status.IN_REVIEW, 2),
            (Status.COMPLETED, 4),
            (Status.DENIED, 2),
            (Status.CANCELLED, 1),
        )
    }
    session.commit()
    assert (
        kept(session)
        == counted(session)
        == {
            Status.CANCELLED: 1,
            Status.COMPLETED: 4,
            Status.DENIED: 2,
            Status.EXPIRED: 0,
        }
    )

    made[Status.RECEIVED][0].status = Status.EXPIRED  # closed by the ORM
    made[Status.IN_REVIEW][0].status = Status.AWAITING_REQUESTER  # open to open: no delta
    session.flush()
    session.execute(  # reopened by a plain UPDATE (a repair by hand)
        update(REQUESTS)
        .where(REQUESTS.c.id == made[Status.DENIED][0].id)
        .values(status=Status.IN_REVIEW.value)
    )
    session.execute(  # one closed status to another
        update(REQUESTS)
        .where(REQUESTS.c.id == made[Status.COMPLETED][0].id)
        .values(status=Status.CANCELLED.value)
    )
    session.execute(  # unchanged: no delta
        update(REQUESTS)
        .where(REQUESTS.c.id == made[Status.COMPLETED][1].id)
        .values(status=Status.COMPLETED.value)
    )
    session.execute(delete(REQUESTS).where(REQUESTS.c.id == made[Status.COMPLETED][2].id))
    assert kept(session) == counted(session)  # inside the transaction that moved them
    session.commit()
    expected = {Status.CANCELLED: 2, Status.COMPLETED: 2, Status.DENIED: 1, Status.EXPIRED: 1}
    assert kept(session) == counted(session) == expected

    before = pending(session)
    assert fold_closed_counts(session) == before > 0
    session.commit()
    assert pending(session) == 0
    assert kept(session) == counted(session) == expected
    assert fold_closed_counts(session) == 0

    session.execute(delete(REQUESTS))  # after a fold, down to nothing
    session.commit()
    assert kept(session) == counted(session) == {status: 0 for status in sorted(TERMINAL)}


def test_a_fold_leaves_the_deltas_of_a_transaction_still_open(
    store: Engine, session: Session
) -> None:
    """A delta another transaction has written but not committed is neither counted nor lost."""
    factories.make_request(session, status=Status.COMPLETED, audited=False)
    session.commit()
    if store.dialect.name == "sqlite":  # one writer at a time: nothing can be in between
        fold_closed_counts(session)
        session.commit()
        assert kept(session) == counted(session)
        return
    with db.open_session(store) as other:
        factories.make_request(other, status=Status.DENIED, audited=False)  # written, not committed
        assert fold_closed_counts(session) == 1
        session.commit()
        assert kept(session) == {
            Status.CANCELLED: 0,
            Status.COMPLETED: 1,
            Status.DENIED: 0,
            Status.EXPIRED: 0,
        }
        other.commit()
    session.commit()  # a new snapshot (MariaDB's repeatable reads keep the one of the last read)
    assert kept(session) == counted(session)
    assert pending(session) == 1


def test_the_migration_counts_the_requests_already_closed(engine_url: str) -> None:
    db.run_migrations(engine_url, "b7e2f4a9c351")
    engine = db.make_engine(engine_url)
    try:
        with engine.begin() as connection:
            for number, status in enumerate(["completed", "completed", "denied", "received"]):
                connection.execute(
                    text(
                        "INSERT INTO dsr_request (type, requester_email, language, reference,"
                        " status, normalized_email, received_at, due_at,"
                        " paused_total_microseconds, extension_months, version_id, created_via,"
                        " time_zone) VALUES ('access', 'a@example.org', 'fr', :reference,"
                        " :status, 'a@example.org', :at, :at, 0, 0, 1, 'web', 'Europe/Paris')"
                    ),
                    {
                        "reference": f"DSR-2026-{number:06d}",
                        "status": status,
                        "at": factories.RECEIVED_AT,
                    },
                )
        db.run_migrations(engine_url)
        with db.open_session(engine) as session:
            assert kept(session) == counted(session)
            assert kept(session)[Status.COMPLETED] == 2
            assert pending(session) == 0
    finally:
        engine.dispose()
