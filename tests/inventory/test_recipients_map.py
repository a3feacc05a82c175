"""What a recipient receives, as the map says it: `receives`, `disclosed_when`, their checks and the
warnings of `dsr map check` where the map may not say everything a recipient received."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dsr.cli import main
from inventory.loader import MapError, load_data_map, parse_data_map
from inventory.recipients import coverage_warnings, fields_received, recipients_of_fields

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = (Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8")

FEDERATION = """recipients:
  federation:
    name: {fr: Fédération, en: Federation}
    kind: third_party
    description: {fr: Reçoit les réservations, en: Receives the bookings}
    country: FR
RECEIVES
categories:
"""


def club_map(receives: str = "", listed: bool = True) -> str:
    text = MINIMAL.replace("categories:\n", FEDERATION.replace("RECEIVES\n", receives), 1)
    if listed:
        text = text.replace(
            '    legal_basis: "6(1)(b)"\n',
            '    legal_basis: "6(1)(b)"\n    recipients: [federation]\n',
            1,
        )
    return text


DISCLOSED = (
    "    receives: [member.full_name]\n"
    "    disclosed_when: booking.starts_at\n"
    "    disclosures_kept: P2Y\n"
)


def test_a_recipient_receives_fields_of_other_categories() -> None:
    data_map = parse_data_map(club_map(DISCLOSED), filename="map.yaml")
    assert ("club", "member.full_name") in fields_received(data_map, "federation")
    assert ("club", "member.email") not in fields_received(data_map, "federation")
    told = recipients_of_fields(data_map, [("club", "member.full_name")], {"federation"})
    assert [(c.recipient, c.categories) for c in told] == [("federation", ("contact",))]
    # Sent nothing: no row of this person has the date set, so the federation is not told.
    assert recipients_of_fields(data_map, [("club", "member.full_name")], set()) == []
    assert recipients_of_fields(data_map, [("club", "member.email")], {"federation"}) == []


def test_what_a_recipient_receives_must_be_fields_of_the_map() -> None:
    with pytest.raises(MapError) as caught:
        parse_data_map(club_map("    receives: [member.full_nam]\n"), filename="map.yaml")
    messages = [p.message for p in caught.value.problems]
    assert any(
        "recipient `federation` receives `member.full_nam`, which is not a field of any "
        "category. Did you mean `member.full_name`?" in m
        for m in messages
    ), messages
    with pytest.raises(MapError) as caught:
        parse_data_map(
            club_map("    disclosed_when: booking.sent_at\n    disclosures_kept: P1Y\n"),
            filename="map.yaml",
        )
    assert any("`booking.sent_at`" in p.message for p in caught.value.problems)


def test_a_disclosure_column_needs_how_long_it_is_remembered() -> None:
    with pytest.raises(MapError) as caught:
        parse_data_map(club_map("    disclosed_when: booking.starts_at\n"), filename="map.yaml")
    assert any("`disclosures_kept`" in p.message for p in caught.value.problems)


def test_map_check_warns_where_what_goes_with_a_disclosed_row_is_not_said() -> None:
    bare = parse_data_map(
        club_map("    disclosed_when: booking.starts_at\n    disclosures_kept: P2Y\n"),
        filename="map.yaml",
    )
    assert coverage_warnings(bare) == [
        "recipient `federation` is sent rows of `booking`, which refer to `member` (category "
        "`contact`): list the fields of `member` sent with them under `receives`"
    ]
    unlisted = parse_data_map(club_map(DISCLOSED, listed=False), filename="map.yaml")
    assert coverage_warnings(unlisted) == [
        "recipient `federation` is sent the rows of `booking.starts_at`, but category "
        "`bookings` does not list it among its recipients"
    ]
    assert coverage_warnings(parse_data_map(club_map(DISCLOSED), filename="map.yaml")) == []


def test_dsr_map_check_prints_the_warnings_and_still_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        club_map("    disclosed_when: booking.starts_at\n    disclosures_kept: P2Y\n"), "utf-8"
    )
    result = CliRunner().invoke(main, ["--map", str(path), "map", "check"])
    assert result.exit_code == 0, result.output
    assert "warning: recipient `federation` is sent rows of `booking`" in result.output


def test_point3s_cci_receives_name_and_email_with_each_registration_sent() -> None:
    data_map = load_data_map(ROOT / "data_map.yaml")
    cci = data_map.recipients["cci_paris_idf"]
    assert cci.disclosed_when == "exam_registration.sent_to_cci_at"
    told = recipients_of_fields(
        data_map, [("learner_platform", "learner.last_name")], {"cci_paris_idf"}
    )
    assert "cci_paris_idf" in [c.recipient for c in told]
    assert coverage_warnings(data_map) == []
