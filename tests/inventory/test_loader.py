"""The map loader: a valid map loads; every kind of mistake is reported at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.loader import MapError, load_data_map, parse_data_map
from inventory.model import AnonymizeStrategy, LegalBasis

MINIMAL = (Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line holding `needle` (which must be unique)."""
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(MapError) as caught:
        parse_data_map(text, filename="map.yaml")
    return [(p.line, p.message) for p in caught.value.problems]


def mutate(old: str, new: str) -> str:
    assert MINIMAL.count(old) == 1, old
    return MINIMAL.replace(old, new)


def test_minimal_map_loads_with_its_values() -> None:
    data_map = parse_data_map(MINIMAL)
    contact = data_map.categories["contact"]
    assert contact.legal_basis is LegalBasis.CONTRACT
    assert data_map.categories["bookings"].legal_basis is LegalBasis.CONTRACT  # "6(1)(b)"
    assert contact.retention.period.years == 3
    assert contact.fields[0].anonymize is not None
    assert contact.fields[0].anonymize.strategy is AnonymizeStrategy.UNIQUE_PLACEHOLDER
    assert data_map.systems["club"].tables["booking_note"].primary_key == ["booking_id", "line"]


def test_unknown_key_names_the_closest_valid_one_at_its_line() -> None:
    text = mutate("    legal_basis: contract", "    legal_basys: contract")
    found = problems_of(text)
    line = line_of(text, "legal_basys")
    assert any(
        n == line and "unknown key `legal_basys`" in m and "`legal_basis`" in m for n, m in found
    )


def test_missing_purpose_is_reported() -> None:
    text = mutate("    purposes: [{fr: Réserver, en: Book}]\n", "")
    found = problems_of(text)
    assert any("missing `purposes` in category `bookings`" in m for _, m in found), found


def test_bad_legal_basis_lists_the_six_grounds() -> None:
    text = mutate("legal_basis: contract", "legal_basis: because")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "legal_basis: because")
    assert "`because`" in message and "legitimate_interests" in message


def test_bad_duration_is_explained_at_its_line() -> None:
    text = mutate("period: P3Y", "period: three years")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "three years")
    assert "not an ISO 8601 duration" in message and "category `contact`" in message


def test_category_with_no_field() -> None:
    start = MINIMAL.index("      - {column: booking.starts_at")
    end = MINIMAL.index("    purposes: [{fr: Réserver")
    text = (
        MINIMAL[:start]
        .replace("    fields:\n", "    fields: []\n", 2)
        .replace("    fields: []\n", "    fields:\n", 1)
        + MINIMAL[end:]
    )
    found = problems_of(text)
    assert any("no field in category `bookings`" in m for _, m in found), found


def test_unknown_system_table_and_column_references() -> None:
    text = mutate(
        "    system: club\n    fields:\n      - {column: booking",
        "    system: clubb\n    fields:\n      - {column: booking",
    )
    found = problems_of(text)
    assert any(
        n == line_of(text, "system: clubb") and "system `clubb`" in m and "`club`" in m
        for n, m in found
    ), found

    text = mutate("column: booking.starts_at", "column: bookin.starts_at")
    found = problems_of(text)
    assert (
        line_of(text, "bookin.starts_at"),
        "field `bookin.starts_at` refers to table `bookin`, which system `club` does not "
        "declare. Did you mean `booking`?",
    ) in found

    text = mutate("from: booking.starts_at", "from: member.joined_at")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "from: member.joined_at\n      source: {fr: Pratique,")
    assert "table `member` holds none of the category's fields" in message


def test_link_to_unknown_table_and_non_key_column() -> None:
    text = mutate("{column: member_id, to: member.id}", "{column: member_id, to: members.id}")
    found = problems_of(text)
    assert any(n == line_of(text, "members.id") and "table `members`" in m for n, m in found), found

    text = mutate("{column: member_id, to: member.id}", "{column: member_id, to: member.full_name}")
    found = problems_of(text)
    assert any("is not a key of table `member`" in m for _, m in found), found


def test_reference_cycle_is_named() -> None:
    text = mutate(
        "      member:\n        primary_key: id\n",
        "      member:\n        primary_key: id\n        links:\n"
        "          - {column: last_note, to: booking_note.booking_id}\n",
    )
    found = problems_of(text)
    assert any("go round in a circle" in m and "member → booking" in m for _, m in found), found


def test_table_unreachable_from_any_identity() -> None:
    text = mutate(
        "      booking_note:\n        primary_key: [booking_id, line]\n        links:\n"
        "          - {column: booking_id, to: booking.id}\n",
        "      booking_note:\n        primary_key: [booking_id, line]\n",
    )
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "booking_note:\n")
    assert "`booking_note`" in message and "cannot be reached from any identity" in message


def test_column_claimed_by_two_categories() -> None:
    text = mutate("column: booking.starts_at", "column: member.joined_at")
    found = problems_of(text)
    assert any("claimed by categories `contact` and `bookings`" in m for _, m in found), found


def test_anonymised_category_needs_a_strategy_per_field() -> None:
    text = mutate(", anonymize: year_only}", "}")
    [(_, message)] = problems_of(text)
    assert "`member.joined_at` has no `anonymize` strategy" in message


def test_retained_category_says_why_and_until_when() -> None:
    text = mutate("    erasure: {action: delete}", "    erasure: {action: retain}")
    [(_, message)] = problems_of(text)
    assert "legal_reason" in message and "until" in message


def test_every_problem_is_reported_at_once() -> None:
    text = (
        MINIMAL.replace("period: P3Y", "period: 3Y")
        .replace("legal_basis: contract", "legal_basis: nope")
        .replace(
            "provenance: provided\n    erasure: {action: delete}",
            "provenance: guessed\n    erasure: {action: delete}",
        )
    )
    found = problems_of(text)
    assert len(found) == 3, found
    assert [n for n, _ in found] == sorted(n for n, _ in found)


def test_duplicate_key_and_yaml_syntax_errors() -> None:
    text = mutate(
        "    legal_basis: contract", "    legal_basis: contract\n    legal_basis: consent"
    )
    found = problems_of(text)
    assert any("`legal_basis` is given twice" in m for _, m in found), found

    found = problems_of("version: 1\norganisation: [unclosed\n")
    assert found[0][1].startswith("this is not valid YAML")


def test_missing_file_and_file_label(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="does not exist"):
        load_data_map(tmp_path / "nope.yaml")
    path = tmp_path / "map.yaml"
    path.write_text(MINIMAL.replace("period: P3Y", "period: P3"), encoding="utf-8")
    with pytest.raises(MapError) as caught:
        load_data_map(path)
    assert str(caught.value).startswith(f"{path}:{line_of(MINIMAL, 'period: P3Y')}:")


def test_changes_set_only_mapped_columns_of_declared_systems() -> None:
    changes = (
        "changes:\n"
        "  deactivation:\n"
        "    description: {fr: Désactivé, en: Deactivated}\n"
        "    set:\n"
        "      - {system: club, column: member.joined_at, now: true}\n"
    )
    data_map = parse_data_map(MINIMAL + changes)
    assert data_map.changes.deactivation is not None
    assert data_map.changes.deactivation.set[0].now

    text = MINIMAL + changes.replace("member.joined_at", "member.locked")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "member.locked")
    assert "sets `member.locked`, which no category of system `club` lists" in message

    text = MINIMAL + changes.replace("system: club", "system: clubs")
    [(_, message)] = problems_of(text)
    assert "system `clubs`" in message and "Did you mean `club`?" in message

    text = MINIMAL + changes.replace("now: true", "now: true, value: 1")
    [(_, message)] = problems_of(text)
    assert "both `now` and a `value`" in message


def test_the_organisations_time_zone_defaults_to_paris_and_a_system_to_the_organisations() -> None:
    data_map = parse_data_map(MINIMAL)
    assert data_map.organisation.timezone == "Europe/Paris"
    assert data_map.system_zone("club").key == "Europe/Paris"
    text = mutate("  name: Tiny Club\n", "  name: Tiny Club\n  timezone: America/New_York\n")
    assert parse_data_map(text).system_zone("club").key == "America/New_York"


def test_a_system_names_its_own_time_zone() -> None:
    text = mutate(
        "    title: Club database\n", "    title: Club database\n    timezone: Pacific/Auckland\n"
    )
    data_map = parse_data_map(text)
    assert data_map.organisation.zone.key == "Europe/Paris"
    assert data_map.system_zone("club").key == "Pacific/Auckland"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Paris", "../etc/passwd", "UTC+2"])
def test_an_unknown_time_zone_is_explained_at_its_line(zone: str) -> None:
    text = mutate("  name: Tiny Club\n", f"  name: Tiny Club\n  timezone: {zone}\n")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, f"timezone: {zone}")
    assert f"`{zone}` is not a known IANA time zone name" in message
    assert "organisation.timezone" in message
