"""The anchor of the audit chain: its last event's sequence and hash, kept outside the store.

A hash chain shows an edit that leaves later hashes alone; someone who rewrites the whole store
(every hash recomputed, the head moved) leaves a chain that verifies. An anchor exported earlier
(`dsr audit anchor --out`, emailed to the DPO) catches that: the rewritten store no longer holds
the anchor's hash at its sequence (`verify_audit(anchor=...)`). An anchor holds no personal data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from dsr.audit.chain import ChainAnchor, canonical_fields
from dsr.audit.models import AuditHead, RequestEvent, verify_audit
from dsr.db import table_of
from dsr.languages import Language
from dsr.outbox.emails import render_email
from dsr.requests.jobs import deadline_staff, queue_once

ANCHOR_FORMAT = "dsr-audit-anchor/1"
ANCHOR_EMAIL = "audit_anchor"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class AnchorUnreadable(ValueError):
    """The file given as an anchor is not one: the message says what is wrong."""


class LogNotIntact(RuntimeError):
    """The log does not verify: anchoring it would vouch for what was altered."""


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    """Where the chain ended when the anchor was taken, and how many events it held."""

    sequence: int
    hash: str
    events: int
    last_event_at: datetime | None
    taken_at: datetime

    @property
    def point(self) -> ChainAnchor:
        return ChainAnchor(self.sequence, self.hash)

    def to_json(self) -> str:
        return json.dumps(
            canonical_fields(
                {
                    "format": ANCHOR_FORMAT,
                    "sequence": self.sequence,
                    "hash": self.hash,
                    "events": self.events,
                    "last_event_at": self.last_event_at,
                    "taken_at": self.taken_at,
                }
            ),
            indent=2,
        )


def take_anchor(*, db_session: Session, now: datetime) -> AuditAnchor:
    """Return the chain's anchor as recorded by its head, at `now`, once the whole log verifies;
    raise LogNotIntact with the first fault otherwise."""
    report = verify_audit(db_session=db_session)
    if not report.ok:
        raise LogNotIntact(report.message)
    head = db_session.get(AuditHead, 1)
    if head is None:
        raise RuntimeError("the audit log has no head row: run `dsr db upgrade`")
    events = table_of(RequestEvent)
    count, last_at = db_session.execute(
        select(func.count(), func.max(events.c.at)).select_from(events)
    ).one()
    return AuditAnchor(head.last_sequence, head.last_hash, int(count), last_at, now)


def read_anchor(text: str) -> ChainAnchor:
    """Read an anchor written by `AuditAnchor.to_json`; raise AnchorUnreadable saying why not."""
    try:
        data = json.loads(text)
    except ValueError:
        raise AnchorUnreadable("This is not an audit anchor: it is not JSON.") from None
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        raise AnchorUnreadable(f'This is not an audit anchor: its "format" is not {ANCHOR_FORMAT}.')
    sequence, digest = data.get("sequence"), data.get("hash")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise AnchorUnreadable('The anchor\'s "sequence" must be a whole number, 0 or more.')
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise AnchorUnreadable('The anchor\'s "hash" must be 64 lowercase hexadecimal digits.')
    return ChainAnchor(sequence, digest)


def email_anchor(
    *, db_session: Session, anchor: AuditAnchor, language: Language, now: datetime
) -> int:
    """Queue the anchor to every active DPO and admin, once per anchor and recipient; return how
    many emails were queued."""
    email = render_email(
        ANCHOR_EMAIL,
        language,
        sequence=anchor.sequence,
        events=anchor.events,
        anchor=anchor.to_json(),
        taken_on=anchor.taken_at.astimezone(UTC).date().isoformat(),
    )
    queued = 0
    for staff in deadline_staff(db_session):
        key = f"{ANCHOR_EMAIL}:{anchor.sequence}:{anchor.hash[:16]}:{staff.id}"
        queued += queue_once(db_session, staff, email, language, key, now)
    return queued
