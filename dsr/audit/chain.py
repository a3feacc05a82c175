"""Hash-chained audit events: each event's hash covers its content and the previous event's hash,
so that editing, removing, inserting or reordering an event is noticed (R8).

Pure functions, no database: the store seals each new event with `append_event` and checks the
log with `verify_chain`. A plain hash chain notices any tampering that does not rewrite every later
hash; to notice a rewrite of the whole tail, keep the head (`ChainAnchor`) somewhere else too
and pass it as `head`.

An event's personal content (reasons, notes, questions, old and new values) is not chained: the
chain covers its digest (`content_digest`), salted with a random salt kept with the content, so
that the content can be deleted once its period is over (R32) and the chain still verifies, while
nobody can confirm a guessed old value against the digest that remains.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Protocol, TypeVar
from uuid import UUID

GENESIS = "0" * 64
"""The previous hash of the first event of a log."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_RECENT_LINKS = 256  # how far back an inserted event is traced to the event it was slipped after


def canonical_fields(fields: Mapping[str, object]) -> dict[str, object]:
    """Return `fields` as plain JSON values: datetimes as UTC ISO strings, enums as their values.

    Store this form (e.g. in a JSON column): reading it back hashes the same as the original.
    """
    plain = _plain(fields)
    if not isinstance(plain, dict):
        raise TypeError("event fields must be a mapping")
    return plain


def canonical_content(event_fields: Mapping[str, object]) -> bytes:
    """Return the bytes that are hashed: JSON with sorted keys and no whitespace, ASCII only."""
    return json.dumps(
        canonical_fields(event_fields),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")


def content_hash(fields: Mapping[str, object]) -> str:
    """Return the SHA-256 hex digest of the event's canonical content."""
    return hashlib.sha256(canonical_content(fields)).hexdigest()


def chain_hash(previous_hash: str, content_hash: str) -> str:
    """Return an event's hash: SHA-256 over the previous event's hash and its own content hash."""
    for name, value in (("previous_hash", previous_hash), ("content_hash", content_hash)):
        if not _HEX64.fullmatch(value):
            raise ValueError(f"{name} must be 64 lowercase hexadecimal digits")
    return _link(previous_hash, content_hash)


CHAINED_DETAILS = frozenset(
    {
        # what a request is and how it came
        "type", "channel", "asked_for", "months", "ground", "parts",  # parts: references (issue 19)
        # counts and names from the data map, never values
        "rows", "tables", "fields", "categories", "category", "system", "systems", "change",
        "rows_deleted", "rows_anonymized", "rows_retained", "rows_withdrawn", "recipient_tasks",
        "erased_categories", "erased", "lifted_early", "action", "followers", "held_until_warned",
        "held_for_legal_claim", "kept_still_referenced", "no_date_not_swept", "warnings_sent",
        "tables_not_swept", "archived_unchanged",
        # the desk's own records, by id or kind
        "method", "files", "file", "downloads_left", "task_id", "kind", "assignee_id", "told_on",
        "told_via", "hold", "ends_on", "failed_email", "answer_email", "events", "cause",
        "document", "bytes",
        # R45/R46: the outcome of a check of proof or identity, the requester's role, the name
        # of the map's identity added to a request and its entry's id (never its value)
        "outcome", "role", "identity", "entry",
        # the member of staff assigned: named like the staff who act (actor_label), for R8
        "assignee",
    }
)  # fmt: skip
"""The keys of an event's details that stay in the chained row: non-personal facts.

Every other key is the event's content, with its `reason`, and is minimised with it: the old and
new values of a rectification (`old_values`, `new_values`), and any key not listed here, so that
a writer that adds a key without classifying it keeps it no longer than the request.
"""


def split_details(details: Mapping[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Return `details` split into its chained facts and its personal content (CHAINED_DETAILS)."""
    facts = {key: value for key, value in details.items() if key in CHAINED_DETAILS}
    content = {key: value for key, value in details.items() if key not in CHAINED_DETAILS}
    return facts, content


def new_salt() -> str:
    """Return a random salt for one event's content digest (128 bits, hex)."""
    return secrets.token_hex(16)


def content_digest(salt: str, content: Mapping[str, object]) -> str:
    """Return the digest of an event's personal content, salted: the chain covers this value."""
    return hashlib.sha256(salt.encode() + b":" + canonical_content(content)).hexdigest()


def _link(previous_hash: str, content_hash: str) -> str:
    return hashlib.sha256(f"{previous_hash}:{content_hash}".encode()).hexdigest()


def _plain(value: object) -> object:
    """Turn one value into its canonical JSON-ready form; refuse what has no stable form."""
    if value is None or isinstance(value, bool | int | str):
        # A StrEnum or IntEnum is already its value to json; make it a plain one anyway.
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("audit timestamps must be timezone-aware")
        utc = value.astimezone(UTC).isoformat(timespec="microseconds")
        return utc.removesuffix("+00:00") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit field names must be strings, got {type(key).__name__}")
            plain[key] = _plain(item)
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(
        f"audit fields cannot hold a {type(value).__name__}: use str, int, bool, None, "
        "datetime, date, UUID, an enum, a list or a mapping"
    )


class ChainedEvent(Protocol):
    """An audit event as stored: its place in the log, its content, and its three hashes."""

    @property
    def sequence(self) -> int: ...
    @property
    def fields(self) -> Mapping[str, object]: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def previous_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """A point of the chain: the sequence number and hash of an event known to be genuine."""

    sequence: int
    hash: str


ORIGIN = ChainAnchor(sequence=0, hash=GENESIS)
"""The point before the first event; sequence numbers start at 1."""


@dataclass(frozen=True, slots=True)
class SealedEvent:
    sequence: int
    fields: Mapping[str, object]
    content_hash: str
    previous_hash: str
    hash: str

    @property
    def anchor(self) -> ChainAnchor:
        return ChainAnchor(sequence=self.sequence, hash=self.hash)


def append_event(head: ChainAnchor, fields: Mapping[str, object]) -> SealedEvent:
    """Seal `fields` as the event that follows `head` (the last event of the log, or ORIGIN)."""
    plain = canonical_fields(fields)
    digest = content_hash(plain)
    return SealedEvent(
        sequence=head.sequence + 1,
        fields=plain,
        content_hash=digest,
        previous_hash=head.hash,
        hash=chain_hash(head.hash, digest),
    )


class Tampering(StrEnum):
    EDITED = "edited"
    REMOVED = "removed"
    REORDERED = "reordered"
    INSERTED = "inserted"


@dataclass(frozen=True, slots=True)
class ChainFault:
    """The first place where the log differs from what was written, and a sentence for people."""

    sequence: int
    tampering: Tampering
    message: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a check: how many events were found intact, the first fault if any, and
    how many of the intact events had their content removed by minimisation."""

    events_checked: int
    fault: ChainFault | None = None
    contents_removed: int = 0

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def message(self) -> str:
        if self.fault is not None:
            return self.fault.message
        plural = "" if self.events_checked == 1 else "s"
        return f"The audit log is intact: {self.events_checked} event{plural} checked."


E = TypeVar("E", bound=ChainedEvent)


def verify_chain(
    events: Iterable[E],
    *,
    after: ChainAnchor = ORIGIN,
    head: ChainAnchor | None = None,
    through: ChainAnchor | None = None,
    check: Callable[[E], ChainFault | None] | None = None,
) -> ChainReport:
    """Check a log given in sequence order; report the first event that was tampered with.

    `after` is where the given events start (ORIGIN for a whole log, or the last event of a
    pruned part); `head`, if known from elsewhere, is where the log must end; `through`, an
    anchor exported earlier, is a point the log must still pass through; `check`, if given,
    checks what an event keeps outside the chain (its content) once its hashes are found right.
    """
    previous = after
    recent: deque[ChainAnchor] = deque([after], maxlen=_RECENT_LINKS)
    head_hash_seen: str | None = None
    checked = 0
    iterator: Iterator[E] = iter(events)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        fault = _inspect(current, previous=previous, following=following, recent=recent)
        if fault is None and check is not None:
            fault = check(current)
        if fault is None and through is not None and current.sequence == through.sequence:
            fault = _check_anchor(through, current.hash)
        if fault is not None:
            return _faulty(fault, checked=checked, after=after)
        checked += 1
        previous = ChainAnchor(current.sequence, current.hash)
        recent.append(previous)
        if head is not None and current.sequence == head.sequence:
            head_hash_seen = current.hash
        current = following
    if head is not None:
        fault = _check_head(head, last=previous, head_hash_seen=head_hash_seen, after=after)
        if fault is not None:
            return _faulty(fault, checked=checked, after=after)
    if through is not None and through.sequence > previous.sequence:
        fault = ChainFault(
            previous.sequence + 1,
            Tampering.REMOVED,
            f"The log ends at event #{previous.sequence}, before event #{through.sequence} that "
            "the anchor recorded: events were removed from its end.",
        )
        return _faulty(fault, checked=checked, after=after)
    if through is not None and through.sequence == after.sequence:
        fault = _check_anchor(through, after.hash)
        if fault is not None:
            return _faulty(fault, checked=checked, after=after)
    return ChainReport(events_checked=checked)


def _check_anchor(anchor: ChainAnchor, found_hash: str) -> ChainFault | None:
    if found_hash == anchor.hash:
        return None
    return ChainFault(
        anchor.sequence,
        Tampering.EDITED,
        f"Event #{anchor.sequence} does not have the hash the anchor recorded: the log was "
        "rewritten after the anchor was taken.",
    )


def _faulty(fault: ChainFault, *, checked: int, after: ChainAnchor) -> ChainReport:
    """Report the fault, counting as checked only the events before it (not inserted ones)."""
    before_fault = max(0, fault.sequence - 1 - after.sequence)
    return ChainReport(events_checked=min(checked, before_fault), fault=fault)


def _inspect(
    event: ChainedEvent,
    *,
    previous: ChainAnchor,
    following: ChainedEvent | None,
    recent: Iterable[ChainAnchor],
) -> ChainFault | None:
    """Check one event against the one before it; peek at the next to tell a swap from a loss."""
    expected = previous.sequence + 1
    number = event.sequence
    if number < expected:
        if number == previous.sequence:
            return ChainFault(
                number,
                Tampering.INSERTED,
                f"Event #{number} appears twice: one of them was added after the fact.",
            )
        return ChainFault(
            number,
            Tampering.REORDERED,
            f"Event #{number} is out of order: it comes after event #{previous.sequence}.",
        )
    if number > expected:
        if following is not None and following.sequence == expected:
            return ChainFault(
                expected,
                Tampering.REORDERED,
                f"Event #{expected} is out of order: it comes after event #{number}.",
            )
        if number == expected + 1:
            message = f"Event #{expected} is missing: it was removed from the log."
        else:
            message = f"Events #{expected} to #{number - 1} are missing: they were removed."
        return ChainFault(expected, Tampering.REMOVED, message)
    if content_hash(event.fields) != event.content_hash:
        return ChainFault(
            number,
            Tampering.EDITED,
            f"Event #{number} was edited after it was written: its content no longer matches "
            "its hash.",
        )
    if _link(event.previous_hash, event.content_hash) != event.hash:
        return ChainFault(
            number,
            Tampering.EDITED,
            f"Event #{number} was edited after it was written: its stored hashes no longer agree.",
        )
    if event.previous_hash == previous.hash:
        return None
    linked = next((anchor for anchor in recent if anchor.hash == event.previous_hash), None)
    if linked is not None and linked.sequence < previous.sequence:
        first, last = linked.sequence + 1, previous.sequence
        inserted = f"Event #{first} was" if first == last else f"Events #{first} to #{last} were"
        return ChainFault(
            first,
            Tampering.INSERTED,
            f"{inserted} inserted after the fact: event #{number} was written right after "
            f"{_name(linked)}.",
        )
    if following is not None and following.hash == event.previous_hash:
        return ChainFault(
            number,
            Tampering.REORDERED,
            f"Event #{number} is out of place: it was written after the event that now follows "
            f"it (#{following.sequence}).",
        )
    return ChainFault(
        number,
        Tampering.REMOVED,
        f"Event #{number} is not linked to {_name(previous)}: an event between them was removed "
        f"or moved, or {_name(previous)} was rewritten.",
    )


def _check_head(
    head: ChainAnchor, *, last: ChainAnchor, head_hash_seen: str | None, after: ChainAnchor
) -> ChainFault | None:
    """Compare the end of the log with the head recorded elsewhere."""
    if last.sequence < head.sequence:
        first = last.sequence + 1
        missing = (
            f"Event #{first} is missing"
            if first == head.sequence
            else f"Events #{first} to #{head.sequence} are missing"
        )
        return ChainFault(first, Tampering.REMOVED, f"{missing}: removed from the end of the log.")
    if head.sequence == after.sequence:
        head_hash_seen = after.hash
    if head_hash_seen != head.hash:
        return ChainFault(
            head.sequence,
            Tampering.EDITED,
            f"Event #{head.sequence} is not the one recorded as the end of the log: it or "
            "the events before it were rewritten.",
        )
    if last.sequence > head.sequence:
        first = head.sequence + 1
        added = (
            f"Event #{first} was"
            if first == last.sequence
            else (f"Events #{first} to #{last.sequence} were")
        )
        return ChainFault(
            first, Tampering.INSERTED, f"{added} added after the recorded end of the log."
        )
    return None


def _name(anchor: ChainAnchor) -> str:
    return "the start of the log" if anchor == ORIGIN else f"event #{anchor.sequence}"
