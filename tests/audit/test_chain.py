"""The audit hash chain: canonical content, sealing, and finding the first tampered event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from enum import Enum, IntEnum
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsr.audit.chain import (
    GENESIS,
    ORIGIN,
    ChainAnchor,
    SealedEvent,
    Tampering,
    append_event,
    canonical_content,
    canonical_fields,
    chain_hash,
    content_hash,
    verify_chain,
)
from dsr.requests.workflow import Action, Actor

START = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)


def make_fields(number: int) -> dict[str, object]:
    return {
        "request_id": 100 + number // 3,
        "actor": Actor.STAFF,
        "action": Action.START_REVIEW,
        "at": START + timedelta(minutes=number),
        "reason": None,
    }


def make_chain(length: int, *, after: ChainAnchor = ORIGIN) -> list[SealedEvent]:
    """Build a genuine log of `length` events."""
    events: list[SealedEvent] = []
    head = after
    for number in range(after.sequence + 1, after.sequence + length + 1):
        event = append_event(head, make_fields(number))
        events.append(event)
        head = event.anchor
    return events


def head_of(events: list[SealedEvent]) -> ChainAnchor:
    return events[-1].anchor if events else ORIGIN


def renumbered(events: list[SealedEvent], first: int = 1) -> list[SealedEvent]:
    return [replace(event, sequence=first + index) for index, event in enumerate(events)]


def forged(after: SealedEvent | ChainAnchor, sequence: int) -> SealedEvent:
    """A forger who knows the algorithm: the event is well sealed and linked to `after`."""
    anchor = after.anchor if isinstance(after, SealedEvent) else after
    fake = append_event(anchor, {"actor": "staff", "action": "approve", "note": "forged"})
    return replace(fake, sequence=sequence)


# --- canonical content ----------------------------------------------------------------------


def test_canonical_content_is_compact_sorted_json() -> None:
    fields = {"b": 1, "a": {"z": [1, "x"], "y": None}, "c": True}
    assert canonical_content(fields) == b'{"a":{"y":null,"z":[1,"x"]},"b":1,"c":true}'
    assert canonical_content(dict(reversed(list(fields.items())))) == canonical_content(fields)


def test_times_are_utc_iso_strings() -> None:
    paris = timezone(timedelta(hours=2))
    fields = {"at": datetime(2025, 6, 1, 11, 0, 0, 5, tzinfo=paris), "on": date(2025, 6, 1)}
    assert canonical_content(fields) == (b'{"at":"2025-06-01T09:00:00.000005Z","on":"2025-06-01"}')
    same_instant = {"at": datetime(2025, 6, 1, 9, 0, 0, 5, tzinfo=UTC), "on": date(2025, 6, 1)}
    assert content_hash(fields) == content_hash(same_instant)


def test_enums_uuids_and_non_ascii_text() -> None:
    class Level(IntEnum):
        HIGH = 3

    fields = {
        "actor": Actor.REQUESTER,
        "level": Level.HIGH,
        "id": UUID(int=1),
        "reason": "Données déjà effacées",
    }
    assert canonical_fields(fields) == {
        "actor": "requester",
        "level": 3,
        "id": "00000000-0000-0000-0000-000000000001",
        "reason": "Données déjà effacées",
    }
    assert type(canonical_fields(fields)["actor"]) is str
    assert canonical_content(fields).isascii()


def test_an_enum_of_neither_str_nor_int_is_its_value() -> None:
    class Colour(Enum):
        RED = "red"
        SHADES = (1, 2)

    assert canonical_fields({"c": Colour.RED, "s": Colour.SHADES}) == {"c": "red", "s": [1, 2]}


@pytest.mark.usefixtures("server_in_new_york")
def test_times_are_utc_whatever_the_servers_own_zone() -> None:
    paris = timezone(timedelta(hours=2))
    fields = {"at": datetime(2025, 6, 1, 11, 0, tzinfo=paris)}
    assert canonical_content(fields) == b'{"at":"2025-06-01T09:00:00.000000Z"}'


class NoOffset(tzinfo):
    """A time zone that does not know its offset: its datetimes are as unknown as naive ones."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (["not", "a", "mapping"], TypeError, "event fields must be a mapping"),
        ({"at": datetime(2025, 1, 1)}, ValueError, "audit timestamps must be timezone-aware"),
        (
            {"at": datetime(2025, 1, 1, tzinfo=NoOffset())},
            ValueError,
            "audit timestamps must be timezone-aware",
        ),
        ({"nested": {1: "x"}}, TypeError, "audit field names must be strings, got int"),
        (
            {"ratio": 0.5},
            TypeError,
            "audit fields cannot hold a float: use str, int, bool, None, datetime, date, UUID, "
            "an enum, a list or a mapping",
        ),
    ],
)
def test_refusals_say_what_is_wrong(fields: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as refused:
        canonical_content(fields)  # type: ignore[arg-type]
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"at": datetime(2025, 1, 1)}, ValueError),  # naive on purpose
        ({"ratio": 0.5}, TypeError),
        ({"when": timedelta(days=1)}, TypeError),
        ({"tags": {"a", "b"}}, TypeError),
        ({"nested": {1: "x"}}, TypeError),
    ],
)
def test_values_without_a_stable_form_are_refused(
    fields: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        canonical_content(fields)


def test_the_hash_format_is_stable() -> None:
    """Changing the canonical form would break every stored chain: this must never move."""
    fields = {"actor": "staff", "action": "approve", "at": datetime(2025, 1, 31, tzinfo=UTC)}
    content = b'{"action":"approve","actor":"staff","at":"2025-01-31T00:00:00.000000Z"}'
    assert canonical_content(fields) == content
    assert content_hash(fields) == hashlib.sha256(content).hexdigest()
    assert (
        chain_hash(GENESIS, content_hash(fields))
        == hashlib.sha256(f"{GENESIS}:{content_hash(fields)}".encode()).hexdigest()
    )
    assert chain_hash(GENESIS, content_hash(fields)) == (
        "9286b1aa68a397479b05ab271d14453bb6d8a20641f12d99dd91ca45d8fac457"
    )


def test_chain_hash_takes_hex_digests_only() -> None:
    with pytest.raises(ValueError, match="^previous_hash must be 64 lowercase hexadecimal digits$"):
        chain_hash("x" * 64, GENESIS)
    with pytest.raises(ValueError, match="^content_hash must be 64 lowercase hexadecimal digits$"):
        chain_hash(GENESIS, GENESIS.upper() + "A")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
field_maps = st.dictionaries(
    st.text(),
    json_values | st.datetimes(timezones=st.just(UTC)) | st.dates() | st.sampled_from(list(Action)),
    max_size=6,
)


@given(fields=field_maps)
def test_stored_json_hashes_like_the_original(fields: dict[str, object]) -> None:
    """What the store saves (canonical_fields, as JSON) and reads back hashes the same."""
    stored = json.loads(json.dumps(canonical_fields(fields)))
    assert content_hash(stored) == content_hash(fields)
    assert canonical_content(stored) == canonical_content(fields)


# --- sealing and verifying ------------------------------------------------------------------


def test_append_event_links_to_the_head() -> None:
    first = append_event(ORIGIN, make_fields(1))
    second = append_event(first.anchor, make_fields(2))
    assert (first.sequence, first.previous_hash) == (1, GENESIS)
    assert (second.sequence, second.previous_hash) == (2, first.hash)
    assert second.hash == chain_hash(first.hash, content_hash(make_fields(2)))
    assert second.fields["actor"] == "staff"


@pytest.mark.parametrize("length", [0, 1, 2, 30])
def test_a_genuine_log_verifies(length: int) -> None:
    events = make_chain(length)
    report = verify_chain(events, head=head_of(events))
    assert report.ok
    assert report.fault is None
    assert report.events_checked == length
    assert report.message.startswith("The audit log is intact")


def test_a_pruned_log_verifies_from_its_anchor() -> None:
    events = make_chain(20)
    kept = events[12:]
    assert verify_chain(kept, after=events[11].anchor, head=head_of(events)).ok
    report = verify_chain(kept)
    assert report.fault is not None
    assert report.fault.sequence == 1
    assert report.fault.tampering is Tampering.REMOVED


def test_an_edited_event_is_reported() -> None:
    events = make_chain(20)
    events[11] = replace(events[11], fields={**events[11].fields, "reason": "changed"})
    report = verify_chain(events)
    assert not report.ok
    assert report.fault is not None
    assert report.fault.sequence == 12
    assert report.fault.tampering is Tampering.EDITED
    assert report.message == (
        "Event #12 was edited after it was written: its content no longer matches its hash."
    )
    assert report.events_checked == 11


def test_an_edit_with_a_recomputed_content_hash_is_reported() -> None:
    events = make_chain(20)
    fields = {**events[11].fields, "reason": "changed"}
    events[11] = replace(events[11], fields=fields, content_hash=content_hash(fields))
    report = verify_chain(events)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.EDITED)
    assert "stored hashes" in report.message


def test_a_resealed_edit_is_reported_at_the_next_event() -> None:
    """Rewriting one event's three hashes leaves it consistent: its successor shows the break."""
    events = make_chain(20)
    resealed = append_event(ChainAnchor(11, events[10].hash), {"reason": "changed"})
    events[11] = resealed
    report = verify_chain(events)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (13, Tampering.REMOVED)
    assert report.message == (
        "Event #13 is not linked to event #12: an event between them was removed or moved, "
        "or event #12 was rewritten."
    )


def test_a_rewritten_tail_is_caught_by_the_head_kept_elsewhere() -> None:
    events = make_chain(20)
    rewritten = events[:15] + make_chain(5, after=events[14].anchor)
    rewritten[16] = append_event(rewritten[15].anchor, {"reason": "changed"})
    for index in range(17, 20):
        rewritten[index] = append_event(rewritten[index - 1].anchor, make_fields(index + 1))
    assert verify_chain(rewritten).ok
    report = verify_chain(rewritten, head=head_of(events))
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (20, Tampering.EDITED)
    assert report.message == (
        "Event #20 is not the one recorded as the end of the log: it or the events before it "
        "were rewritten."
    )


def test_a_deleted_event_is_reported() -> None:
    events = make_chain(20)
    del events[11]
    report = verify_chain(events)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.REMOVED)
    assert report.message == "Event #12 is missing: it was removed from the log."


def test_several_deleted_events_are_reported() -> None:
    events = make_chain(20)
    del events[11:14]
    report = verify_chain(events)
    assert report.fault is not None
    assert report.message == "Events #12 to #14 are missing: they were removed."


def test_a_deleted_event_with_renumbering_is_reported() -> None:
    events = make_chain(20)
    del events[11]
    report = verify_chain(renumbered(events))
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.REMOVED)


def test_swapped_events_are_reported() -> None:
    events = make_chain(20)
    events[11], events[12] = events[12], events[11]
    report = verify_chain(events)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.REORDERED)
    assert report.message == "Event #12 is out of order: it comes after event #13."


def test_swapped_contents_under_the_same_numbers_are_reported() -> None:
    events = make_chain(20)
    events[11], events[12] = (
        replace(events[12], sequence=12),
        replace(events[11], sequence=13),
    )
    report = verify_chain(events)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.REORDERED)
    assert report.message == (
        "Event #12 is out of place: it was written after the event that now follows it (#13)."
    )


def test_a_forged_event_in_the_middle_is_reported() -> None:
    events = make_chain(20)
    events.insert(11, forged(events[10], sequence=12))
    report = verify_chain(renumbered(events))
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.INSERTED)
    assert report.message == (
        "Event #12 was inserted after the fact: event #13 was written right after event #11."
    )


def test_several_forged_events_in_a_pruned_log_are_reported() -> None:
    events = make_chain(20)
    kept = events[12:]  # events #13 to #20, after the anchor of #12
    first = forged(events[14], sequence=16)
    second = replace(append_event(first.anchor, {"note": "forged too"}), sequence=17)
    report = verify_chain(
        renumbered([*kept[:3], first, second, *kept[3:]], first=13), after=events[11].anchor
    )
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (16, Tampering.INSERTED)
    assert report.message == (
        "Events #16 to #17 were inserted after the fact: event #18 was written right after "
        "event #15."
    )
    assert report.events_checked == 3


def test_an_old_number_coming_back_is_reported_as_out_of_order() -> None:
    events = make_chain(5)
    report = verify_chain([*events, events[1]])
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (2, Tampering.REORDERED)
    assert report.message == "Event #2 is out of order: it comes after event #5."


def test_only_recent_links_are_traced_back() -> None:
    """verify_chain keeps a bounded window of links, so a stream of any length fits in memory:
    an event that claims to follow one 256 events back or more is reported as not linked."""
    events = make_chain(300)

    def relinked(back: int) -> list[SealedEvent]:
        index = 280
        fake = forged(events[index - 1 - back], sequence=index + 1)
        return [*events[:index], fake, *events[index + 1 :]]

    traced = verify_chain(relinked(255))
    assert traced.fault is not None
    assert (traced.fault.sequence, traced.fault.tampering) == (26, Tampering.INSERTED)
    assert traced.message.startswith("Events #26 to #280 were inserted after the fact")

    too_far = verify_chain(relinked(256))
    assert too_far.fault is not None
    assert (too_far.fault.sequence, too_far.fault.tampering) == (281, Tampering.REMOVED)
    assert too_far.message.startswith("Event #281 is not linked to event #280")


def test_a_forged_event_with_a_made_up_hash_is_reported() -> None:
    events = make_chain(20)
    fake = replace(forged(events[10], sequence=12), hash="f" * 64)
    events.insert(11, fake)
    report = verify_chain(renumbered(events))
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.EDITED)


def test_a_forged_duplicate_number_is_reported() -> None:
    events = make_chain(20)
    events.insert(12, forged(events[10], sequence=12))
    report = verify_chain(events)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (12, Tampering.INSERTED)
    assert report.message == "Event #12 appears twice: one of them was added after the fact."


def test_a_forged_first_event_is_reported() -> None:
    events = make_chain(5)
    report = verify_chain(renumbered([forged(ORIGIN, 1), *events]))
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (1, Tampering.INSERTED)
    assert "right after the start of the log" in report.message


def test_events_appended_or_cut_at_the_end_need_the_head() -> None:
    events = make_chain(20)
    head = head_of(events)
    longer = [*events, forged(events[-1], sequence=21)]
    assert verify_chain(longer).ok
    report = verify_chain(longer, head=head)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (21, Tampering.INSERTED)
    assert report.message == "Event #21 was added after the recorded end of the log."

    two_longer = [*longer, forged(longer[-1], sequence=22)]
    report = verify_chain(two_longer, head=head)
    assert report.fault is not None
    assert report.message == "Events #21 to #22 were added after the recorded end of the log."

    one_shorter = events[:19]
    report = verify_chain(one_shorter, head=head)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (20, Tampering.REMOVED)
    assert report.message == "Event #20 is missing: removed from the end of the log."

    shorter = events[:17]
    assert verify_chain(shorter).ok
    report = verify_chain(shorter, head=head)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (18, Tampering.REMOVED)
    assert report.message == "Events #18 to #20 are missing: removed from the end of the log."

    report = verify_chain([], head=head)
    assert report.fault is not None
    assert report.fault.sequence == 1


def test_verify_consumes_a_stream_once() -> None:
    events = make_chain(10)
    assert verify_chain(iter(events), head=head_of(events)).ok
    assert verify_chain(event for event in events).events_checked == 10


# --- property: a single tampering is reported where it happened -----------------------------

Tamper = Callable[[list[SealedEvent], int], list[SealedEvent]]


def edit(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    event = events[index]
    events[index] = replace(event, fields={**event.fields, "reason": f"edited {index}"})
    return events


def delete(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    del events[index]
    return events


def delete_and_renumber(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    del events[index]
    return renumbered(events)


def swap_with_next(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    events[index], events[index + 1] = events[index + 1], events[index]
    return events


def swap_contents_with_next(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    events[index], events[index + 1] = events[index + 1], events[index]
    return renumbered(events)


def insert_forged(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    before = events[index - 1].anchor if index else ORIGIN
    events.insert(index, forged(before, sequence=index + 1))
    return renumbered(events)


def insert_made_up(events: list[SealedEvent], index: int) -> list[SealedEvent]:
    before = events[index - 1].anchor if index else ORIGIN
    events.insert(index, replace(forged(before, sequence=index + 1), previous_hash="a" * 64))
    return renumbered(events)


# Each tampering, and the positions (0-based) it can be applied at in a log of n events.
TAMPERINGS: dict[str, tuple[Tamper, Callable[[int], range]]] = {
    "edit": (edit, lambda n: range(n)),
    "delete": (delete, lambda n: range(n)),
    "delete_and_renumber": (delete_and_renumber, lambda n: range(n)),
    "swap_with_next": (swap_with_next, lambda n: range(n - 1)),
    "swap_contents_with_next": (swap_contents_with_next, lambda n: range(n - 1)),
    "insert_forged": (insert_forged, lambda n: range(n + 1)),
    "insert_made_up": (insert_made_up, lambda n: range(n + 1)),
}


@st.composite
def tampered_logs(draw: st.DrawFn) -> tuple[list[SealedEvent], ChainAnchor, int, str]:
    """Draw a genuine log, its head, one tampering, and the sequence number it first touches."""
    name = draw(st.sampled_from(sorted(TAMPERINGS)))
    tamper, positions = TAMPERINGS[name]
    length = draw(st.integers(min_value=2, max_value=30))
    events = make_chain(length)
    index = draw(st.sampled_from(positions(length)))
    return tamper(list(events), index), head_of(events), index + 1, name


@given(case=tampered_logs())
def test_a_single_tampering_is_found_where_it_happened(
    case: tuple[list[SealedEvent], ChainAnchor, int, str],
) -> None:
    events, head, first_touched, name = case
    report = verify_chain(events, head=head)
    assert report.fault is not None, name
    assert report.fault.sequence == first_touched, (name, report.message)
    assert report.events_checked == first_touched - 1
    assert report.message.startswith("Event")
