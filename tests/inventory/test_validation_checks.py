"""Each cross-reference check of a map, one by one: the problem, its sentence and its place.

Every test edits the minimal map in one spot and compares the whole list of problems, each as
(line, column, sentence), so that a check that goes quiet, reports twice, points at the wrong
place or says something else is caught. Boundary cases sit beside each check: what the check
must accept is tested as carefully as what it refuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory.loader import MapError, parse_data_map
from inventory.model import DataMap
from inventory.validation import Problem, known_columns, validate_references

MINIMAL = (Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8")

Found = tuple[int, int, str]


def edit(*replacements: tuple[str, str], text: str = MINIMAL) -> str:
    """Apply each (old, new) replacement to the map; each `old` must occur exactly once."""
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def at(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """Return the 1-based (line, column) of `needle` (unique in `text`), plus `offset` chars."""
    assert text.count(needle) == 1, needle
    index = text.index(needle) + offset
    line = text[:index].count("\n") + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def problems_of(text: str) -> list[Found]:
    with pytest.raises(MapError) as caught:
        parse_data_map(text, filename="map.yaml")
    return [(p.line, p.column, p.message) for p in caught.value.problems]


def loads(text: str) -> DataMap:
    return parse_data_map(text, filename="map.yaml")


def problem(text: str, needle: str, message: str, offset: int = 0) -> Found:
    return (*at(text, needle, offset), message)


def with_archive(text: str = MINIMAL, table: str = "member", column: str = "nickname") -> str:
    """Add a second system, `archive`, whose `table` is found through its own identity `column`.

    It shows that each check stays within its own system when two systems share a table name;
    the `email` identity has no location in `archive`.
    """
    system = (
        "  archive:\n"
        "    title: Archive\n"
        '    url: {env: ARCHIVE_DB_URL, default: "sqlite:///archive.sqlite3"}\n'
        "    tables:\n"
        f"      {table}:\n"
        "        primary_key: id\n"
    )
    identity = (
        "  archived:\n"
        "    kind: text\n"
        "    label: {fr: Archive, en: Archive}\n"
        f"    locations:\n      archive:\n        - {{column: {table}.{column}}}\n"
    )
    return edit(
        ("identities:\n", system + "identities:\n"),
        ("categories:\n", identity + "categories:\n"),
        text=text,
    )


def test_the_minimal_map_has_no_problem() -> None:
    assert validate_references(loads(MINIMAL)) == []


def test_a_problem_points_at_the_value_unless_told_the_key() -> None:
    assert Problem(("systems",), "x").at_key is False


# --- links ------------------------------------------------------------------------------------


def test_link_to_an_undeclared_table_names_the_closest_one() -> None:
    text = edit(
        (
            "          - {column: member_id, to: member.id}\n",
            "          - {column: member_id, to: member.id}\n"
            "          - {column: coach_id, to: membr.id}\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "membr.id}",
            "`membr.id` refers to table `membr`, which system `club` does not declare. "
            "Did you mean `member`?",
        )
    ]


def test_link_to_an_undeclared_table_with_no_close_name() -> None:
    text = edit(
        (
            "          - {column: member_id, to: member.id}\n",
            "          - {column: member_id, to: member.id}\n"
            "          - {column: coach_id, to: zzz.id}\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text, "zzz.id}", "`zzz.id` refers to table `zzz`, which system `club` does not declare."
        )
    ]


def test_a_table_whose_only_link_is_broken_is_also_unreachable() -> None:
    text = edit(("to: member.id}", "to: members.id}"))
    assert problems_of(text) == [
        problem(
            text,
            "booking:\n",
            "table `booking` of system `club` cannot be reached from any identity: give it a "
            "link to a table that leads to the person, or list one of its columns under "
            "`identities`.",
        ),
        problem(
            text,
            "members.id}",
            "`members.id` refers to table `members`, which system `club` does not declare. "
            "Did you mean `member`?",
        ),
        problem(
            text,
            "booking_note:\n",
            "table `booking_note` of system `club` cannot be reached from any identity: give it "
            "a link to a table that leads to the person, or list one of its columns under "
            "`identities`.",
        ),
    ]


def test_owner_pointing_at_an_undeclared_table() -> None:
    text = edit(
        (
            "          - {column: booking_id, to: booking.id}\n",
            "          - {column: booking_id, to: booking.id}\n"
            "        owner: {column: author_id, to: membr.id}\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "membr.id}",
            "`membr.id` refers to table `membr`, which system `club` does not declare. "
            "Did you mean `member`?",
        )
    ]


def test_owner_pointing_at_a_column_that_is_no_key() -> None:
    text = edit(
        (
            "          - {column: booking_id, to: booking.id}\n",
            "          - {column: booking_id, to: booking.id}\n"
            "        owner: {column: author_id, to: member.full_name}\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "member.full_name}",
            "`member.full_name` is not a key of table `member`: a link must point at its "
            "primary key (id), one of its link columns or an identity column.",
        )
    ]


def test_owner_pointing_at_the_primary_key_is_accepted() -> None:
    text = edit(
        (
            "          - {column: booking_id, to: booking.id}\n",
            "          - {column: booking_id, to: booking.id}\n"
            "        owner: {column: author_id, to: member.id}\n",
        )
    )
    data_map = loads(text)
    owner = data_map.systems["club"].tables["booking_note"].owner
    assert owner is not None and owner.to == "member.id"


def test_link_to_a_column_that_is_no_key() -> None:
    text = edit(("to: member.id}", "to: member.full_name}"))
    assert problems_of(text) == [
        problem(
            text,
            "member.full_name}",
            "`member.full_name` is not a key of table `member`: a link must point at its "
            "primary key (id), one of its link columns or an identity column.",
        )
    ]


def test_no_key_message_lists_every_column_of_a_composite_primary_key() -> None:
    text = edit(
        (
            "identities:\n",
            "      note_reply:\n"
            "        primary_key: id\n"
            "        links:\n"
            "          - {column: booking_id, to: booking.id}\n"
            "          - {column: note_text, to: booking_note.text}\n"
            "identities:\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "booking_note.text}",
            "`booking_note.text` is not a key of table `booking_note`: a link must point at its "
            "primary key (booking_id, line), one of its link columns or an identity column.",
        )
    ]


def test_link_may_point_at_an_identity_column() -> None:
    """The locator carries the identity column's values from the rows it found (a newsletter
    sign-up keyed by the account's email), so such a link finds rows: it is accepted."""
    text = edit(
        (
            "identities:\n",
            "      signup:\n"
            "        primary_key: id\n"
            "        links:\n"
            "          - {column: email, to: member.email}\n"
            "identities:\n",
        )
    )
    link = loads(text).systems["club"].tables["signup"].links[0]
    assert (link.target_table, link.target_column) == ("member", "email")


def test_link_may_point_at_a_link_column_of_its_target() -> None:
    text = edit(
        (
            "identities:\n",
            "      member_booking_stats:\n"
            "        primary_key: id\n"
            "        links:\n"
            "          - {column: member_id, to: booking.member_id}\n"
            "identities:\n",
        )
    )
    assert "member_booking_stats" in loads(text).systems["club"].tables


def test_a_table_may_be_found_by_its_key_from_a_column_of_the_target_that_refers_to_it() -> None:
    """A court a booking names (Fides' `direction: to`): its key is among the subject's
    `booking.court_id`, a column that is no key of `booking` but points at this table."""
    text = edit(
        (
            "identities:\n",
            "      court:\n"
            "        primary_key: id\n"
            "        links:\n"
            "          - {column: id, to: booking.court_id}\n"
            "identities:\n",
        )
    )
    link = loads(text).systems["club"].tables["court"].links[0]
    assert (link.target_table, link.target_column) == ("booking", "court_id")


def test_only_the_tables_own_whole_key_may_be_found_from_a_column_that_is_no_key() -> None:
    text = edit(
        (
            "identities:\n",
            "      court:\n"
            "        primary_key: [id, site]\n"
            "        links:\n"
            "          - {column: id, to: booking.court_id}\n"
            "identities:\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "booking.court_id}",
            "`booking.court_id` is not a key of table `booking`: a link must point at its "
            "primary key (id), one of its link columns or an identity column.",
        )
    ]


def test_an_identity_column_of_another_table_is_no_key_of_the_target() -> None:
    """`member.email` is an identity column; `booking.email` is not."""
    text = edit(("to: booking.id}", "to: booking.email}"))
    assert problems_of(text) == [
        problem(
            text,
            "booking.email}",
            "`booking.email` is not a key of table `booking`: a link must point at its primary "
            "key (id), one of its link columns or an identity column.",
        )
    ]


def test_an_identity_column_of_another_system_is_no_key_of_the_target() -> None:
    """`archive.member.nickname` is an identity column; `club.member.nickname` is not."""
    text = with_archive(edit(("to: member.id}", "to: member.nickname}")))
    assert problems_of(text) == [
        problem(
            text,
            "to: member.nickname}",
            "`member.nickname` is not a key of table `member`: a link must point at its "
            "primary key (id), one of its link columns or an identity column.",
            offset=len("to: "),
        )
    ]


# --- cycles and reachability ------------------------------------------------------------------


CYCLE = (
    "      member:\n        primary_key: id\n",
    "      member:\n        primary_key: id\n        links:\n"
    "          - {column: last_note, to: booking_note.booking_id}\n",
)


def test_a_cycle_is_named_at_the_links_of_its_first_table() -> None:
    text = edit(CYCLE)
    assert problems_of(text) == [
        problem(
            text,
            "- {column: last_note",
            "the links of system `club` go round in a circle (member → booking_note → booking → "
            "member): the tool could not tell where a person's data starts.",
        )
    ]


def test_a_cycle_is_reported_once_without_reachability_problems() -> None:
    """Reachability means nothing in a circle: only the circle is reported."""
    text = edit(
        (
            "identities:\n",
            "      left:\n        primary_key: id\n        links:\n"
            "          - {column: right_id, to: right.id}\n"
            "      right:\n        primary_key: id\n        links:\n"
            "          - {column: left_id, to: left.id}\n"
            "identities:\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "- {column: right_id",
            "the links of system `club` go round in a circle (left → right → left): the tool "
            "could not tell where a person's data starts.",
        )
    ]


def test_a_table_linking_to_itself_is_a_cycle() -> None:
    text = edit(
        (
            "          - {column: member_id, to: member.id}\n",
            "          - {column: member_id, to: member.id}\n"
            "          - {column: previous_id, to: booking.id}\n",
        ),
    )
    assert problems_of(text) == [
        problem(
            text,
            "- {column: member_id",
            "the links of system `club` go round in a circle (booking → booking): the tool "
            "could not tell where a person's data starts.",
        )
    ]


def test_an_unreachable_table_is_reported_at_its_name() -> None:
    text = edit(("identities:\n", "      audit_entry:\n        primary_key: id\nidentities:\n"))
    assert problems_of(text) == [
        problem(
            text,
            "audit_entry:",
            "table `audit_entry` of system `club` cannot be reached from any identity: give it "
            "a link to a table that leads to the person, or list one of its columns under "
            "`identities`.",
        )
    ]


def test_an_owner_alone_does_not_reach_a_table() -> None:
    """The locator finds rows through identities and links; `owner` only sorts found rows."""
    text = edit(
        (
            "identities:\n",
            "      message:\n        primary_key: id\n"
            "        owner: {column: author_id, to: member.id}\n"
            "identities:\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "message:\n",
            "table `message` of system `club` cannot be reached from any identity: give it a "
            "link to a table that leads to the person, or list one of its columns under "
            "`identities`.",
        )
    ]


def test_an_identity_column_makes_a_table_reachable() -> None:
    text = edit(
        ("identities:\n", "      signup:\n        primary_key: id\nidentities:\n"),
        (
            "        - {column: member.email, expect_one: true}\n",
            "        - {column: member.email, expect_one: true}\n"
            "        - {column: signup.email}\n",
        ),
    )
    assert "signup" in loads(text).systems["club"].tables


def test_tables_declared_before_the_tables_they_link_to_are_reachable() -> None:
    """Reachability follows the links, not the order in which the map lists the tables."""
    member = "      member:\n        primary_key: id\n"
    note = (
        "      booking_note:\n        primary_key: [booking_id, line]\n        links:\n"
        "          - {column: booking_id, to: booking.id}\n"
    )
    text = edit((member, ""), (note, ""))
    text = edit(("    tables:\n", "    tables:\n" + note), text=text)
    text = edit(("identities:\n", member + "identities:\n"), text=text)
    data_map = loads(text)
    assert list(data_map.systems["club"].tables) == ["booking_note", "booking", "member"]


def test_an_identity_of_another_system_does_not_reach_a_table() -> None:
    """`archive.signup` is found by its identity column; `club.signup` has none and no link."""
    text = with_archive(
        edit(("identities:\n", "      signup:\n        primary_key: id\nidentities:\n")),
        table="signup",
        column="email",
    )
    assert problems_of(text) == [
        problem(
            text,
            "signup:\n        primary_key: id\n  archive:",
            "table `signup` of system `club` cannot be reached from any identity: give it a link "
            "to a table that leads to the person, or list one of its columns under `identities`.",
        )
    ]


# --- identities -------------------------------------------------------------------------------


EMAIL_LOCATION = "        - {column: member.email, expect_one: true}\n"


def test_identity_in_an_undeclared_system_is_reported_at_the_system_name() -> None:
    clubs = "      clubs:\n        - {column: member.email}\n"
    text = edit((EMAIL_LOCATION, EMAIL_LOCATION + clubs))
    assert problems_of(text) == [
        problem(
            text,
            "clubs:",
            "identity `email` refers to system `clubs`, which the map does not declare. "
            "Did you mean `club`?",
        )
    ]


def test_identity_in_a_table_the_system_does_not_declare() -> None:
    text = edit((EMAIL_LOCATION, EMAIL_LOCATION + "        - {column: membr.phone}\n"))
    assert problems_of(text) == [
        problem(
            text,
            "membr.phone}",
            "identity `email` refers to table `membr`, which system `club` does not declare. "
            "Did you mean `member`?",
        )
    ]


# --- categories -------------------------------------------------------------------------------


def test_category_in_an_undeclared_system_is_reported_once() -> None:
    """Its fields, which live in that system, are not checked one by one as well."""
    text = edit(
        (
            "    system: club\n    fields:\n      - {column: member.email",
            "    system: clubb\n    fields:\n      - {column: member.email",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "clubb",
            "category `contact` refers to system `clubb`, which the map does not declare. "
            "Did you mean `club`?",
        )
    ]


def test_field_naming_an_undeclared_system_is_reported() -> None:
    text = edit(
        (
            "{column: booking_note.text, label: {fr: Note, en: Note}}",
            "{column: booking_note.text, label: {fr: Note, en: Note}, system: clubs}",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "clubs}",
            "field `booking_note.text` refers to system `clubs`, which the map does not declare. "
            "Did you mean `club`?",
        )
    ]


def test_field_may_live_in_another_declared_system() -> None:
    text = with_archive(
        edit(
            (
                "{column: booking_note.text, label: {fr: Note, en: Note}}",
                "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
                "      - {column: member.nickname, label: {fr: Pseudo, en: Nickname}, "
                "system: archive}",
            )
        )
    )
    data_map = loads(text)
    assert [f.column for f in data_map.categories["bookings"].fields_in("archive")] == [
        "member.nickname"
    ]


def test_field_in_a_table_the_system_does_not_declare() -> None:
    text = edit(("column: booking_note.text", "column: bookin_note.text"))
    assert problems_of(text) == [
        problem(
            text,
            "bookin_note.text",
            "field `bookin_note.text` refers to table `bookin_note`, which system `club` does "
            "not declare. Did you mean `booking_note`?",
        )
    ]


RECIPIENTS = (
    "recipients:\n"
    "  carrier:\n"
    "    name: Colis SA\n"
    "    kind: processor\n"
    "    description: {fr: Transporteur, en: Carrier}\n"
    "    country: FR\n"
)


def test_recipient_not_declared_is_reported_at_its_entry() -> None:
    text = edit(
        ("categories:\n", RECIPIENTS + "categories:\n"),
        (
            "    purposes: [{fr: Réserver, en: Book}]\n",
            "    purposes: [{fr: Réserver, en: Book}]\n    recipients: [carrier, carier]\n",
        ),
    )
    assert problems_of(text) == [
        problem(
            text,
            "carier]",
            "category `bookings` names recipient `carier`, which is not declared under "
            "`recipients`. Did you mean `carrier`?",
        )
    ]


def test_declared_recipients_are_accepted() -> None:
    text = edit(
        ("categories:\n", RECIPIENTS + "categories:\n"),
        (
            "    purposes: [{fr: Réserver, en: Book}]\n",
            "    purposes: [{fr: Réserver, en: Book}]\n    recipients: [carrier]\n",
        ),
    )
    assert loads(text).categories["bookings"].recipients == ["carrier"]


def test_column_claimed_by_two_categories_is_reported_at_the_second() -> None:
    text = edit(
        ("column: booking_note.text", "column: member.full_name"),
        ("    erasure: {action: anonymize}", "    erasure: {action: delete}"),
    )
    assert problems_of(text) == [
        problem(
            text,
            "member.full_name, label: {fr: Note",
            "column `member.full_name` of system `club` is claimed by categories `contact` and "
            "`bookings`: a column belongs to one category.",
        )
    ]


def test_same_column_name_in_two_systems_is_two_columns() -> None:
    text = with_archive(
        edit(
            (
                "{column: booking_note.text, label: {fr: Note, en: Note}}",
                "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
                "      - {column: member.email, label: {fr: Courriel, en: Email}, "
                "system: archive}",
            )
        )
    )
    data_map = loads(text)
    assert [f.column for f in data_map.categories["bookings"].fields_in("archive")] == [
        "member.email"
    ]


def test_anonymised_field_without_strategy_is_reported_at_the_field() -> None:
    text = edit((", anonymize: year_only}", "}"))
    assert problems_of(text) == [
        problem(
            text,
            "{column: member.joined_at",
            "field `member.joined_at` has no `anonymize` strategy, but category `contact` is "
            "anonymised on erasure or at the end of its period: say how (keep, null, fixed, "
            "keyed_hash, year_only, truncate or unique_placeholder).",
        )
    ]


def test_fields_anonymised_at_the_end_of_the_period_need_a_strategy() -> None:
    text = edit(
        (
            "      from: booking.starts_at\n",
            "      from: booking.starts_at\n      at_end: anonymize\n",
        )
    )
    assert [message.split(" has")[0] for _, _, message in problems_of(text)] == [
        "field `booking.starts_at`",
        "field `booking_note.text`",
    ]


def test_deleted_fields_need_no_strategy() -> None:
    """`bookings` is deleted: its fields name no strategy and the map is valid."""
    bookings = loads(MINIMAL).categories["bookings"]
    assert [f.anonymize for f in bookings.fields] == [None, None]


OWNED_NOTE = (
    "          - {column: booking_id, to: booking.id}\n",
    "          - {column: booking_id, to: booking.id}\n"
    "        owner: {column: author_id, to: member.id}\n",
)


def test_third_party_field_needs_an_owner_on_its_table() -> None:
    text = edit(("{fr: Note, en: Note}}", "{fr: Note, en: Note}, third_party: true}"))
    assert problems_of(text) == [
        problem(
            text,
            "third_party: true}",
            "field `booking_note.text` may hold other people's data, but table `booking_note` "
            "declares no `owner`: the tool could not tell the subject's own rows from the others.",
            offset=len("third_party: "),
        )
    ]


def test_third_party_field_on_a_table_with_an_owner_is_accepted() -> None:
    text = edit(OWNED_NOTE, ("{fr: Note, en: Note}}", "{fr: Note, en: Note}, third_party: true}"))
    assert loads(text).categories["bookings"].fields[1].third_party


MEMBER_NOTE = (
    "{column: booking_note.text, label: {fr: Note, en: Note}}",
    "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
    "      - {column: member.nickname, label: {fr: Pseudo, en: Nickname}}",
)
CONTACT_ENDS = (
    "      source: {fr: Pratique CNIL, en: CNIL practice}",
    "      at_end: delete\n      source: {fr: Pratique CNIL, en: CNIL practice}",
)
CONTRADICTION = (
    "category `bookings` deletes the rows of table `member` (system `club`), but category "
    "`contact` {verb} columns of the same rows: the erasure would contradict itself."
)


def test_one_table_deleted_by_a_category_and_anonymised_by_another() -> None:
    text = edit(MEMBER_NOTE)
    assert problems_of(text) == [problem(text, "delete}", CONTRADICTION.format(verb="anonymises"))]


def test_one_table_deleted_by_a_category_and_retained_by_another() -> None:
    text = edit(
        MEMBER_NOTE,
        (
            "    erasure: {action: anonymize}",
            "    erasure: {action: retain, legal_reason: {fr: Loi, en: Law}, until: {fr: Fin, "
            "en: End}}",
        ),
        CONTACT_ENDS,
    )
    assert problems_of(text) == [problem(text, "delete}", CONTRADICTION.format(verb="retains"))]


def test_one_table_retained_by_a_category_and_anonymised_by_another_is_accepted() -> None:
    """Both keep the row; the retention wins (see the erasure's planning)."""
    text = edit(
        MEMBER_NOTE,
        (", anonymize: unique_placeholder}", "}"),
        (', anonymize: "null"}', "}"),
        (", anonymize: year_only}", "}"),
        ("    erasure: {action: delete}", "    erasure: {action: anonymize}"),
        (
            "{column: booking.starts_at, label: {fr: Début, en: Start}}",
            "{column: booking.starts_at, label: {fr: Début, en: Start}, anonymize: keep}",
        ),
        (
            "{column: booking_note.text, label: {fr: Note, en: Note}}",
            '{column: booking_note.text, label: {fr: Note, en: Note}, anonymize: "null"}',
        ),
        (
            "{column: member.nickname, label: {fr: Pseudo, en: Nickname}}",
            '{column: member.nickname, label: {fr: Pseudo, en: Nickname}, anonymize: "null"}',
        ),
        (
            "    erasure: {action: anonymize}\n  bookings",
            "    erasure: {action: retain, legal_reason: {fr: Loi, en: Law}, until: {fr: Fin, "
            "en: End}}\n  bookings",
        ),
        CONTACT_ENDS,
    )
    data_map = loads(text)
    assert [c.erasure.action for c in data_map.categories.values()] == ["retain", "anonymize"]


def test_two_categories_deleting_the_same_table_agree() -> None:
    text = edit(
        MEMBER_NOTE,
        ("    erasure: {action: anonymize}", "    erasure: {action: delete}"),
    )
    assert [c.erasure.action for c in loads(text).categories.values()] == ["delete", "delete"]


def test_tables_of_the_same_name_in_two_systems_are_erased_apart() -> None:
    """`club.member` is anonymised, `archive.member` deleted: different rows, no contradiction."""
    text = with_archive(
        edit(
            (
                "{column: booking_note.text, label: {fr: Note, en: Note}}",
                "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
                "      - {column: member.nickname, label: {fr: Pseudo, en: Nickname}, "
                "system: archive}",
            )
        )
    )
    data_map = loads(text)
    assert data_map.categories["bookings"].erasure.action == "delete"


def test_retention_running_from_a_table_without_the_categorys_fields() -> None:
    text = edit(("from: booking.starts_at", "from: member.joined_at"))
    assert problems_of(text) == [
        problem(
            text,
            "member.joined_at\n      source: {fr: Pratique,",
            "the retention of category `bookings` runs from `member.joined_at`, but table "
            "`member` holds none of the category's fields.",
        )
    ]


def test_retention_may_run_from_any_column_of_a_table_with_fields() -> None:
    text = edit(("from: booking.starts_at", "from: booking.created_at"))
    assert loads(text).categories["bookings"].retention.from_ == "booking.created_at"


def test_retention_from_a_table_whose_fields_live_in_another_system() -> None:
    """The period runs from the category's own system: a field of `archive.member` does not
    make `club.member` a table of the category."""
    text = with_archive(
        edit(
            (
                "{column: booking_note.text, label: {fr: Note, en: Note}}",
                "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
                "      - {column: member.nickname, label: {fr: Pseudo, en: Nickname}, "
                "system: archive}",
            ),
            ("from: booking.starts_at", "from: member.created_at"),
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "member.created_at",
            "the retention of category `bookings` runs from `member.created_at`, but table "
            "`member` holds none of the category's fields.",
        )
    ]


# --- changes ----------------------------------------------------------------------------------


def changes(*columns: str, kind: str = "deactivation") -> str:
    lines = "".join(f"      - {c}\n" for c in columns)
    return f"changes:\n  {kind}:\n    description: {{fr: Changé, en: Changed}}\n    set:\n{lines}"


def test_change_in_an_undeclared_system_is_reported_once() -> None:
    text = MINIMAL + changes("{system: clubs, column: member.locked, now: true, value: 1}")
    assert problems_of(text) == [
        problem(
            text,
            "clubs,",
            "change `deactivation` refers to system `clubs`, which the map does not declare. "
            "Did you mean `club`?",
        )
    ]


def test_change_setting_a_column_no_category_lists() -> None:
    text = MINIMAL + changes(
        "{system: club, column: member.joined_at, now: true}",
        "{system: club, column: member.locked, value: true}",
    )
    assert problems_of(text) == [
        problem(
            text,
            "member.locked",
            "change `deactivation` sets `member.locked`, which no category of system `club` "
            "lists as a field.",
        )
    ]


def test_change_column_must_be_a_field_of_its_own_table() -> None:
    """`joined_at` is a field of `member`, not of `booking`."""
    text = MINIMAL + changes("{system: club, column: booking.joined_at, value: 1}")
    assert problems_of(text) == [
        problem(
            text,
            "booking.joined_at",
            "change `deactivation` sets `booking.joined_at`, which no category of system `club` "
            "lists as a field.",
        )
    ]


def test_change_with_both_now_and_a_value_is_reported_at_its_entry() -> None:
    text = MINIMAL + changes("{system: club, column: member.joined_at, now: true, value: 1}")
    assert problems_of(text) == [
        problem(
            text,
            "{system: club, column: member.joined_at",
            "change `deactivation` gives both `now` and a `value` for `member.joined_at`.",
        )
    ]


def test_change_with_a_value_or_now_alone_is_accepted() -> None:
    text = MINIMAL + changes(
        "{system: club, column: member.joined_at, now: true}",
        "{system: club, column: member.full_name, value: x}",
        "{system: club, column: member.email, now: false, value: y}",
    )
    change = loads(text).changes.deactivation
    assert change is not None and [c.name for c in change.set] == [
        "joined_at",
        "full_name",
        "email",
    ]


@pytest.mark.parametrize(
    "kind",
    ["deactivation", "reactivation", "restriction", "lift_restriction", "marketing_objection"],
)
def test_every_kind_of_change_is_checked(kind: str) -> None:
    text = MINIMAL + changes("{system: club, column: member.locked, value: true}", kind=kind)
    assert problems_of(text) == [
        problem(
            text,
            "member.locked",
            f"change `{kind}` sets `member.locked`, which no category of system `club` lists as "
            "a field.",
        )
    ]


# --- what the map knows of a table (read by `map check --live`) -------------------------------


def model_of(text: str) -> DataMap:
    """Return the map's model without the cross-checks (to ask about half-built maps)."""
    return DataMap.model_validate(yaml.safe_load(text))


def test_known_columns_gathers_keys_links_fields_retention_and_identities() -> None:
    data_map = loads(MINIMAL)
    assert known_columns(data_map, "club", "member") == {"id", "email", "full_name", "joined_at"}
    assert known_columns(data_map, "club", "booking") == {"id", "member_id", "starts_at"}
    assert known_columns(data_map, "club", "booking_note") == {"booking_id", "line", "text"}


def test_known_columns_adds_owner_retention_column_and_columns_linked_to() -> None:
    text = edit(
        OWNED_NOTE,
        ("from: booking.starts_at", "from: booking.created_at"),
        (
            "identities:\n",
            "      signup:\n        primary_key: id\n        links:\n"
            "          - {column: email, to: member.email}\n"
            "          - {column: member_id, to: booking.member_id}\n"
            "          - {column: note_line, to: booking_note.line}\n"
            "        owner: {column: referrer, to: booking.code}\n"
            "identities:\n",
        ),
    )
    data_map = model_of(text)
    assert known_columns(data_map, "club", "booking_note") == {
        "booking_id",
        "line",
        "text",
        "author_id",
    }
    assert known_columns(data_map, "club", "booking") == {
        "id",
        "member_id",
        "starts_at",
        "created_at",
        "code",
    }
    assert known_columns(data_map, "club", "signup") == {
        "id",
        "email",
        "member_id",
        "note_line",
        "referrer",
    }


def test_known_columns_stays_within_its_system() -> None:
    """Retention dates, identities and fields of `archive.member` are not `club.member`'s."""
    text = with_archive(
        edit(
            (
                "{column: booking_note.text, label: {fr: Note, en: Note}}",
                "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
                "      - {column: member.alias, label: {fr: Alias, en: Alias}, system: archive}",
            ),
        )
    )
    text += (
        "  archived:\n"
        "    title: {fr: Archive, en: Archive}\n"
        "    description: {fr: Archive, en: Archive}\n"
        "    system: archive\n"
        "    fields:\n"
        "      - {column: member.pseudonym, label: {fr: Pseudo, en: Pseudonym}}\n"
        "    purposes: [{fr: Archiver, en: Archive}]\n"
        "    legal_basis: contract\n"
        "    retention:\n"
        "      period: P1Y\n"
        "      from: member.archived_at\n"
        "      source: {fr: Pratique, en: Practice}\n"
        "    source: {fr: Vous-même, en: Yourself}\n"
        "    provenance: provided\n"
        "    erasure: {action: delete}\n"
    )
    text = text.replace(
        "categories: [contact, bookings]", "categories: [contact, bookings, archived]"
    )
    data_map = loads(text)
    assert known_columns(data_map, "club", "member") == {"id", "email", "full_name", "joined_at"}
    assert known_columns(data_map, "archive", "member") == {
        "id",
        "nickname",
        "alias",
        "pseudonym",
        "archived_at",
    }


# --- one problem does not hide the next -------------------------------------------------------


def test_every_broken_link_of_a_table_is_reported() -> None:
    text = edit(
        (
            "          - {column: member_id, to: member.id}\n",
            "          - {column: member_id, to: member.id}\n"
            "          - {column: coach_id, to: coach.id}\n"
            "          - {column: court_id, to: court.id}\n",
        )
    )
    assert [m for _, _, m in problems_of(text)] == [
        "`coach.id` refers to table `coach`, which system `club` does not declare.",
        "`court.id` refers to table `court`, which system `club` does not declare.",
    ]


def test_every_undeclared_system_of_an_identity_is_reported() -> None:
    text = edit(
        (
            EMAIL_LOCATION,
            EMAIL_LOCATION + "      crm:\n        - {column: contact.email}\n"
            "      erp:\n        - {column: client.email}\n",
        )
    )
    assert [m for _, _, m in problems_of(text)] == [
        "identity `email` refers to system `crm`, which the map does not declare.",
        "identity `email` refers to system `erp`, which the map does not declare.",
    ]


def test_every_undeclared_table_of_an_identity_is_reported() -> None:
    text = edit(
        (
            EMAIL_LOCATION,
            EMAIL_LOCATION + "        - {column: coach.email}\n        - {column: court.email}\n",
        )
    )
    assert [m for _, _, m in problems_of(text)] == [
        "identity `email` refers to table `coach`, which system `club` does not declare.",
        "identity `email` refers to table `court`, which system `club` does not declare.",
    ]


def test_every_field_in_an_undeclared_system_or_table_is_reported() -> None:
    text = edit(
        (
            "{column: booking_note.text, label: {fr: Note, en: Note}}",
            "{column: booking_note.text, label: {fr: Note, en: Note}}\n"
            "      - {column: coach.name, label: {fr: Coach, en: Coach}, system: crm}\n"
            "      - {column: court.name, label: {fr: Court, en: Court}, system: erp}\n"
            "      - {column: coach.name, label: {fr: Coach, en: Coach}}\n"
            "      - {column: court.name, label: {fr: Court, en: Court}}",
        )
    )
    assert [m for _, _, m in problems_of(text)] == [
        "field `coach.name` refers to system `crm`, which the map does not declare.",
        "field `court.name` refers to system `erp`, which the map does not declare.",
        "field `coach.name` refers to table `coach`, which system `club` does not declare.",
        "field `court.name` refers to table `court`, which system `club` does not declare.",
    ]


def test_every_column_of_a_change_is_checked() -> None:
    text = MINIMAL + changes(
        "{system: crm, column: member.locked, value: true}",
        "{system: club, column: member.locked, value: true}",
    )
    assert [m for _, _, m in problems_of(text)] == [
        "change `deactivation` refers to system `crm`, which the map does not declare.",
        "change `deactivation` sets `member.locked`, which no category of system `club` lists "
        "as a field.",
    ]


RETAINED = (
    "    erasure: {action: anonymize}",
    "    erasure: {action: retain, legal_reason: {fr: Loi, en: Law}, until: {fr: Fin, en: End}}",
)


def test_a_retained_category_says_what_ends_its_period() -> None:
    text = edit(RETAINED)
    message = (
        "category `contact` retains its data on erasure, but its retention does not say what "
        "happens when the period ends: a period is a maximum, add `at_end: delete` or "
        "`at_end: anonymize`."
    )
    assert problems_of(text) == [problem(text, "period: P3Y", message)]
    assert loads(edit(RETAINED, CONTACT_ENDS)).categories["contact"].end_action == "delete"


def test_a_period_never_ends_in_keeping() -> None:
    text = edit(RETAINED, (CONTACT_ENDS[0], CONTACT_ENDS[1].replace("delete", "retain")))
    [(line, _, message)] = problems_of(text)
    assert line == at(text, "at_end: retain")[0]
    assert "`at_end` is `delete` or `anonymize`" in message


def test_a_fallback_start_lies_in_a_declared_table() -> None:
    text = edit(
        (
            "      from: member.joined_at\n",
            "      from: member.joined_at\n      fallback: [member.created_at, membr.joined_at]\n",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "membr.joined_at",
            "the retention of category `contact` falls back on `membr.joined_at`, but system "
            "`club` does not declare table `membr`. Did you mean `member`?",
        )
    ]


# --- processing activities and recipients' countries (issue 18) ----------------------------------


def test_a_category_that_serves_no_activity_is_reported_at_its_key() -> None:
    text = edit(("categories: [contact, bookings]", "categories: [contact]"))
    assert problems_of(text) == [
        problem(
            text,
            "  bookings:",
            "category `bookings` serves no processing activity: list it in the `categories` of "
            "at least one activity under `activities`.",
            offset=2,
        )
    ]


def test_an_activity_naming_an_unknown_category_is_reported_at_it() -> None:
    text = edit(("categories: [contact, bookings]", "categories: [contact, bookings, bokings]"))
    assert problems_of(text) == [
        problem(
            text,
            "bokings]",
            "activity `membership` uses category `bokings`, which is not declared under "
            "`categories`. Did you mean `bookings`?",
        )
    ]


def test_a_map_without_activities_is_refused() -> None:
    start = MINIMAL.index("activities:\n")
    text = MINIMAL[:start] + MINIMAL[MINIMAL.index("systems:\n") :]
    assert [message for _, _, message in problems_of(text)] == [
        "missing `activities`: list the processing activities of the register, each with its "
        "`name`, `purposes`, the `data_subjects` it concerns and the `categories` it uses."
    ]


def test_the_desks_own_activity_cannot_be_redeclared() -> None:
    text = edit(("  membership:\n", "  data_subject_requests:\n"))
    assert problems_of(text) == [
        problem(
            text,
            "  data_subject_requests:",
            "activity `data_subject_requests` is the desk's own handling of the requests, which "
            "every register includes: give yours another id.",
            offset=2,
        )
    ]


def test_a_processor_without_a_country_is_refused() -> None:
    text = edit(("categories:\n", RECIPIENTS.replace("    country: FR\n", "") + "categories:\n"))
    assert problems_of(text) == [
        problem(
            text,
            "  carrier:",
            "recipient `carrier` gives no `country`: say where it receives the data (ISO 3166 "
            "alpha-2 code, such as FR or US); the register never assumes it.",
            offset=2,
        )
    ]


def test_an_internal_recipient_needs_no_country() -> None:
    internal = RECIPIENTS.replace("    country: FR\n", "").replace("processor", "internal")
    assert loads(edit(("categories:\n", internal + "categories:\n"))).recipients["carrier"]


def test_a_country_that_is_not_iso_3166_is_refused() -> None:
    text = edit(("categories:\n", RECIPIENTS.replace("FR", "XX") + "categories:\n"))
    assert problems_of(text) == [
        problem(
            text,
            "XX",
            "'XX' is not an ISO 3166 alpha-2 country code (such as FR, DE or US) (at "
            "recipient `carrier`, under `country`).",
        )
    ]


def test_a_transfer_outside_the_eea_needs_its_mechanism_and_reference() -> None:
    text = edit(("categories:\n", RECIPIENTS.replace("FR", "US") + "categories:\n"))
    assert problems_of(text) == [
        problem(
            text,
            "US",
            "recipient `carrier` receives the data in US, outside the EU/EEA: give its "
            "`transfer_mechanism` (adequacy_decision, standard_contractual_clauses, "
            "binding_corporate_rules, code_of_conduct, certification or article_49_derogation) "
            "and, in `transfer_safeguards`, its reference.",
        )
    ]
    stated = RECIPIENTS.replace("FR", "us") + (
        "    transfer_mechanism: standard_contractual_clauses\n"
        "    transfer_safeguards: {fr: Clauses 2021/914, en: Clauses 2021/914}\n"
    )
    carrier = loads(edit(("categories:\n", stated + "categories:\n"))).recipients["carrier"]
    assert (carrier.country, carrier.outside_eea) == ("US", True)
    unknown = RECIPIENTS.replace("FR", "US") + "    transfer_mechanism: handshake\n"
    assert "transfer_mechanism" in str(
        problems_of(edit(("categories:\n", unknown + "categories:\n")))
    )


def test_an_activity_concerns_persons_the_organisation_declares() -> None:
    text = edit(
        (
            "data_subjects: [{fr: Membres, en: Members}]\n    categories",
            "data_subjects: [{fr: Invités, en: Guests}]\n    categories",
        )
    )
    assert problems_of(text) == [
        problem(
            text,
            "{fr: Invités",
            "activity `membership` concerns “Guests”, which is not one of "
            "`organisation.data_subjects`: refer to one of them (a YAML alias such as "
            "*learners), or add it there.",
        )
    ]
