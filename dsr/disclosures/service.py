"""Record which recipients were sent a person's data, find them again, and forget them on time.

A disclosure is recorded from the rows the map marks as sent (a recipient's `disclosed_when`):
the subject's own rows before an erasure or a change, and the rows a retention sweep is about to
delete. The person is known only by the keyed hash of their address (the suppression list's key):
the record can be found from the address of a later request, not read back into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from dsr.db import table_of, transaction
from dsr.disclosures.models import Disclosure
from dsr.suppression.service import address_digest
from inventory.disclosures import Disclosed, expiring_disclosures, subject_disclosures
from inventory.locator import SubjectLocation
from inventory.model import DataMap
from inventory.periods import retention_cutoff
from inventory.retention import as_utc


def record_disclosures(
    db_session: Session,
    disclosed: Iterable[Disclosed],
    *,
    key: bytes,
    now: datetime,
    email: str | None = None,
) -> int:
    """Record each disclosure not recorded yet (the person: `email`, else each one's own);
    return how many were added."""
    table = table_of(Disclosure)
    wanted: dict[tuple[str, str, str, datetime], None] = {}
    for one in disclosed:
        address = email or one.email
        if address:
            wanted[(address_digest(address, key), one.recipient, one.category, one.sent_at)] = None
    if not wanted:
        return 0
    digests = sorted({w[0] for w in wanted})
    known = {
        (d, r, c, as_utc(s))
        for d, r, c, s in db_session.execute(
            select(
                table.c.subject_digest, table.c.recipient, table.c.category, table.c.sent_at
            ).where(table.c.subject_digest.in_(digests))
        )
    }
    added = 0
    for digest, recipient, category, sent_at in wanted:
        if (digest, recipient, category, sent_at) in known:
            continue
        db_session.add(
            Disclosure(
                subject_digest=digest,
                recipient=recipient,
                category=category,
                sent_at=sent_at,
                recorded_at=now,
            )
        )
        added += 1
    db_session.flush()
    return added


@dataclass(frozen=True)
class Recorded:
    """What the desk knows was sent to one recipient about a person."""

    recipient: str
    categories: tuple[str, ...]
    last_sent_at: datetime


def recorded_disclosures(store: Session | Connection, email: str, *, key: bytes) -> list[Recorded]:
    """Return, per recipient, the categories of this person's data it was sent (recorded), read
    in a session's or a connection's transaction."""
    rows = store.execute(_recorded(), {"p_digest": address_digest(email, key)}).all()
    by_recipient: dict[str, tuple[dict[str, None], datetime]] = {}
    for recipient, category, sent_at in rows:
        categories, last = by_recipient.get(recipient, ({}, as_utc(sent_at)))
        categories[category] = None
        by_recipient[recipient] = (categories, max(last, as_utc(sent_at)))
    return [
        Recorded(recipient, tuple(categories), last)
        for recipient, (categories, last) in by_recipient.items()
    ]


@cache
def _recorded() -> Select[str, str, datetime]:
    """A person's recorded disclosures, by the digest of their address: built once."""
    table = table_of(Disclosure)
    return (
        select(table.c.recipient, table.c.category, table.c.sent_at)
        .where(table.c.subject_digest == bindparam("p_digest"))
        .order_by(table.c.recipient, table.c.category)
    )


def record_subject_disclosures(
    engine: Engine,
    data_map: DataMap,
    systems: Any,
    location: SubjectLocation,
    *,
    email: str,
    key: bytes,
    now: datetime,
) -> int:
    """Record, in its own transaction, the disclosures of the subject's live rows: done before
    the rows are changed or erased, so that a retry still knows them."""
    found = subject_disclosures(data_map, systems, location)
    with transaction(engine) as db_session:
        return record_disclosures(db_session, found, key=key, now=now, email=email)


def record_before_sweep(
    engine: Engine, data_map: DataMap, systems: Any, *, key: bytes, now: datetime
) -> dict[str, int]:
    """Record the disclosures of every row the retention sweeps are about to expire at `now`;
    return how many were added per category (one transaction per batch)."""
    added: dict[str, int] = {}
    for category_id in data_map.categories:
        for batch in expiring_disclosures(data_map, systems, category_id, now):
            with transaction(engine) as db_session:
                count = record_disclosures(db_session, batch, key=key, now=now)
            added[category_id] = added.get(category_id, 0) + count
    return added


def forget_old_disclosures(engine: Engine, data_map: DataMap, *, now: datetime) -> int:
    """Delete the records whose recipient's `disclosures_kept` period after the date sent is
    over; return how many. Records of a recipient the map no longer follows are kept: the map
    states no period for them, and forgetting them would forget whom to tell."""
    periods: Mapping[str, datetime] = {
        recipient_id: retention_cutoff(recipient.disclosures_kept, now)
        for recipient_id, recipient in data_map.recipients.items()
        if recipient.disclosures_kept is not None
    }
    if not periods:
        return 0
    table = table_of(Disclosure)
    condition = or_(
        *(
            and_(table.c.recipient == recipient, table.c.sent_at < cutoff)
            for recipient, cutoff in periods.items()
        )
    )
    with engine.begin() as conn:
        return int(conn.execute(delete(table).where(condition)).rowcount)
