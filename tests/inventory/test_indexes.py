"""`map check --live` names the locator's lookups that no index serves, with the statement that
creates one; a location declared `normalised` is matched as stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    event,
    insert,
    text,
)

from dsr.cli import main
from inventory.changes import rectify_subject
from inventory.indexes import _canonical, _first_indexed_expression
from inventory.loader import MapError, parse_data_map
from inventory.locator import locate_subject
from inventory.systems import Systems

MINIMAL = (Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8")
EMAIL_LOCATION = "        - {column: member.email, expect_one: true}\n"
NORMALISED_LOCATION = "        - {column: member.email, expect_one: true, normalised: true}\n"
STATEMENT = re.compile(r"CREATE INDEX [^;]+;")


def club_schema(*, link_index: bool) -> MetaData:
    """The minimal map's club, with only a plain index on `member.email` (a real schema's)."""
    metadata = MetaData()
    Table(
        "member",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(200), nullable=False, index=True),
        Column("full_name", String(100)),
        Column("joined_at", Date),
    )
    booking = Table(
        "booking",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", Integer, nullable=False),
        Column("starts_at", DateTime),
    )
    if link_index:
        Index("ix_booking_member", booking.c.member_id)
    Table(
        "booking_note",
        metadata,
        Column("booking_id", Integer, primary_key=True, autoincrement=False),
        Column("line", Integer, primary_key=True, autoincrement=False),
        Column("text", String(200)),
    )
    return metadata


@pytest.fixture
def club(database_engine: Engine) -> Engine:
    metadata = club_schema(link_index=False)
    metadata.create_all(database_engine)
    with database_engine.begin() as conn:
        conn.execute(
            insert(metadata.tables["member"]),
            [
                {"id": 1, "email": "ana@club.example", "full_name": "Ana"},
                {"id": 2, "email": "BOB@Club.example", "full_name": "Bob"},
            ],
        )
        conn.execute(insert(metadata.tables["booking"]), [{"id": 10, "member_id": 2}])
    return database_engine


def check_live(tmp_path: Path, url: str, map_text: str = MINIMAL) -> tuple[int, str, Path]:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(map_text, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--map", str(map_file), "map", "check", "--live"], env={"CLUB_DB_URL": url}
    )
    return result.exit_code, result.output, map_file


def warnings_of(output: str) -> list[str]:
    """The index warnings (the club's dates may be NULL: those warnings are tested apart)."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("warning:") and "no start date" not in line
    ]


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.databases("sqlite", "postgresql")
def test_a_plain_email_index_asks_for_the_expression_index_which_then_serves(
    club: Engine, engine_url: str, tmp_path: Path
) -> None:
    code, output, map_file = check_live(tmp_path, engine_url)
    assert code == 0, output
    found = warnings_of(output)
    assert len(found) == 2, output
    email, link = found
    column = EMAIL_LOCATION.index("member.email") + 1
    assert email.startswith(f"warning: {map_file}:{line_of(MINIMAL, EMAIL_LOCATION)}:{column}: ")
    assert "[club] identity `email` finds rows of `member` by lower(`email`)" in email
    assert "CREATE INDEX ix_member_lower_email ON member (lower(email));" in email
    assert "the link from `booking.member_id` to `member.id`" in link
    assert "CREATE INDEX ix_booking_member_id ON booking (member_id);" in link
    # booking_note's link runs on the first column of its primary key: served.

    with club.begin() as conn:
        for statement in STATEMENT.findall(output):
            conn.execute(text(statement))
    code, output, _ = check_live(tmp_path, engine_url)
    assert code == 0, output
    assert warnings_of(output) == []
    assert output.strip().endswith("valid and matches the live databases.")


@pytest.mark.databases("mariadb")
def test_mariadb_which_cannot_index_lower_email_is_told_to_declare_the_column_normalised(
    club: Engine, engine_url: str, tmp_path: Path
) -> None:
    code, output, _ = check_live(tmp_path, engine_url)
    assert code == 0, output
    email, link = warnings_of(output)
    assert "by lower(`email`), which MariaDB cannot index" in email
    assert "declare `normalised: true` on this location (its index then serves" in email
    assert "CREATE INDEX ix_booking_member_id ON booking (member_id);" in link

    with club.begin() as conn:
        conn.execute(text(STATEMENT.findall(link)[0]))
        conn.execute(text("UPDATE member SET email = lower(email)"))
    normalised = MINIMAL.replace(EMAIL_LOCATION, NORMALISED_LOCATION)
    code, output, _ = check_live(tmp_path, engine_url, normalised)
    assert code == 0, output
    assert warnings_of(output) == []


def test_an_indexed_link_asks_for_nothing(database_engine: Engine, tmp_path: Path) -> None:
    club_schema(link_index=True).create_all(database_engine)
    code, output, _ = check_live(tmp_path, str(database_engine.url))
    assert code == 0, output
    assert not any("booking" in line for line in warnings_of(output)), output


@pytest.fixture
def statements(club: Engine) -> Iterator[list[str]]:
    """The SQL the locator sends (statements on `member` only)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "member" in statement and "booking" not in statement:
            sent.append(statement.lower())

    event.listen(Engine, "before_cursor_execute", record)
    yield sent
    event.remove(Engine, "before_cursor_execute", record)


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_normalised_location_is_matched_as_stored(
    club: Engine, engine_url: str, engine_kind: str, tmp_path: Path, statements: list[str]
) -> None:
    def member_keys(map_text: str, email: str) -> set[tuple[Any, ...]]:
        data_map = parse_data_map(map_text)
        with Systems(data_map, {"CLUB_DB_URL": engine_url}).opened() as systems:
            location = locate_subject(data_map, systems, "email", email)
        match = location.match("club", "member")
        return set(match.keys) if match else set()

    folded = MINIMAL
    assert member_keys(folded, " Bob@club.EXAMPLE ") == {(2,)}
    assert any("lower(member.email)" in s for s in statements), statements

    statements.clear()
    normalised = MINIMAL.replace(EMAIL_LOCATION, NORMALISED_LOCATION)
    assert member_keys(normalised, " ANA@Club.example") == {(1,)}
    assert statements and not any("lower(" in s for s in statements), statements
    # Declared normalised while Bob's address is stored in capitals: the locator misses him...
    # (MariaDB's usual collation ignores case: there the match still finds him.)
    missed = {(2,)} if engine_kind == "mariadb" else set()
    assert member_keys(normalised, "bob@club.example") == missed

    # ...and the live check says so, at the flag, without showing the value.
    code, output, map_file = check_live(tmp_path, engine_url, normalised)
    assert code == 0, output
    (stored,) = [w for w in warnings_of(output) if "normalised, but" in w]
    column = NORMALISED_LOCATION.rindex("true") + 1
    assert stored.startswith(f"warning: {map_file}:{line_of(normalised, NORMALISED_LOCATION)}:")
    assert f":{column}: [club] identity `email` declares `member.email` normalised" in stored
    assert "BOB" not in output and "bob" not in output
    # The lookup itself now wants the plain index, which exists: no warning about it.
    assert not any("lower(" in w for w in warnings_of(output)), output

    with club.begin() as conn:
        conn.execute(text("UPDATE member SET email = lower(email)"))
    code, output, _ = check_live(tmp_path, engine_url, normalised)
    assert not any("normalised, but" in w for w in warnings_of(output)), output
    assert member_keys(normalised, "bob@club.example") == {(2,)}


def test_a_trailing_space_is_not_normalised(database_engine: Engine, tmp_path: Path) -> None:
    club_schema(link_index=True).create_all(database_engine)
    with database_engine.begin() as conn:
        conn.execute(text("INSERT INTO member (id, email) VALUES (1, 'ana@club.example ')"))
    normalised = MINIMAL.replace(EMAIL_LOCATION, NORMALISED_LOCATION)
    _, output, _ = check_live(tmp_path, str(database_engine.url), normalised)
    assert any("normalised, but" in w for w in warnings_of(output)), output


def map_problems(map_text: str) -> list[str]:
    with pytest.raises(MapError) as caught:
        parse_data_map(map_text, filename="map.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_normalised_flag_that_is_not_true_or_false_is_refused_at_its_place() -> None:
    location = EMAIL_LOCATION.replace("expect_one: true", "expect_one: true, normalised: often")
    found = map_problems(MINIMAL.replace(EMAIL_LOCATION, location))
    column = location.index("often") + 1
    assert found == [
        f"map.yaml:{line_of(MINIMAL, EMAIL_LOCATION)}:{column}: `often` in identity `email`, "
        "under `locations.club.0.normalised` must be `true` or `false`."
    ]


def test_normalised_is_refused_where_the_locator_already_compares_as_stored() -> None:
    identity = (
        "  member_number:\n"
        "    kind: id\n"
        "    label: {fr: Numéro, en: Number}\n"
        "    locations:\n"
        "      club:\n"
        "        - {column: member.id, normalised: true}\n"
    )
    text_map = MINIMAL.replace("categories:\n", identity + "categories:\n", 1)
    (problem,) = map_problems(text_map)
    line = line_of(text_map, "{column: member.id, normalised: true}")
    assert problem.startswith(f"map.yaml:{line}:")
    assert "identity `member_number` is of kind `id`, which the locator already compares as " in (
        problem
    )
    assert "`normalised` applies to `email` and `phone` identities only" in problem


def test_a_unique_constraint_or_the_primary_key_serves_an_exact_lookup(
    database_engine: Engine, tmp_path: Path
) -> None:
    metadata = MetaData()
    Table(
        "member",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(200), nullable=False),
        Column("full_name", String(100)),
        Column("joined_at", Date),
        UniqueConstraint("email"),
    )
    Table(
        "booking",
        metadata,
        Column("id", Integer, nullable=False),
        Column("member_id", Integer, nullable=False),
        Column("starts_at", DateTime),
        PrimaryKeyConstraint("member_id", "id"),
    )
    club_schema(link_index=False).tables["booking_note"].to_metadata(metadata)
    metadata.create_all(database_engine)
    normalised = MINIMAL.replace(EMAIL_LOCATION, NORMALISED_LOCATION)
    code, output, _ = check_live(tmp_path, str(database_engine.url), normalised)
    assert code == 0, output
    assert warnings_of(output) == []


@pytest.mark.parametrize(
    ("catalogue", "canonical"),
    [
        ("lower((email)::text)", "lower(email)"),  # PostgreSQL, varchar column
        ("lower((email)::character varying)", "lower(email)"),
        ('lower("email")', "lower(email)"),  # SQLite, as written in the CREATE INDEX
        ("LOWER( Email )", "lower(email)"),
        ("lower(trim(email))", "lower(trim(email))"),  # not what the locator sends
        ('"member_id"', "member_id"),
    ],
)
def test_index_keys_are_compared_in_one_spelling(catalogue: str, canonical: str) -> None:
    assert _canonical(catalogue) == canonical


def test_the_first_key_of_a_create_index_statement() -> None:
    assert _first_indexed_expression("CREATE INDEX ix ON t (lower(email), id)") == "lower(email)"
    assert _first_indexed_expression('CREATE INDEX "i" ON "t"(email COLLATE NOCASE)') == "email"
    assert _first_indexed_expression("CREATE INDEX ix ON t (replace(a, ' ', ''))") == (
        "replace(a, ' ', '')"
    )


def test_a_corrected_value_in_a_normalised_location_is_stored_as_compared(
    club: Engine, engine_url: str
) -> None:
    """Rectifying the address of a location declared normalised writes it lower-case and
    trimmed: written as typed, the locator (which matches it as stored) would lose the person."""
    data_map = parse_data_map(MINIMAL.replace(EMAIL_LOCATION, NORMALISED_LOCATION))
    with Systems(data_map, {"CLUB_DB_URL": engine_url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", "ana@club.example")
        rectify_subject(
            data_map,
            systems,
            location,
            {
                ("club", "member.email"): "  Ana.New@Club.EXAMPLE ",
                ("club", "member.full_name"): "Ana B",
            },
        )
        moved = locate_subject(data_map, systems, "email", "ana.new@club.example")
    match = moved.match("club", "member")
    assert match is not None and set(match.keys) == {(1,)}
    with club.connect() as conn:
        stored = conn.execute(text("SELECT email, full_name FROM member WHERE id = 1")).one()
    # Only the identity is put in its compared form; other corrected values are kept as typed.
    assert tuple(stored) == ("ana.new@club.example", "Ana B")
