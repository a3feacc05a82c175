"""The map's `display` of a field and a category's `group_by`: loaded, and every mistake reported
at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.loader import MapError, parse_data_map
from inventory.model import CodeDisplay, CodeList, MoneyDisplay, ReferenceDisplay

MINIMAL = (Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8")
STARTS_AT = "      - {column: booking.starts_at, label: {fr: Début, en: Start}}\n"
NOTE = "      - {column: booking_note.text, label: {fr: Note, en: Note}}\n"


def bookings_with(fields: str, *, group_by: str = "") -> str:
    """The minimal map with these lines in place of the bookings' fields (and a `group_by`)."""
    assert MINIMAL.count(STARTS_AT + NOTE) == 1
    text = MINIMAL.replace(STARTS_AT + NOTE, STARTS_AT + fields)
    if group_by:
        text = text.replace(
            "    purposes: [{fr: Réserver, en: Book}]",
            f"    group_by: {group_by}\n    purposes: [{{fr: Réserver, en: Book}}]",
        )
    return text


def problems_of(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(MapError) as caught:
        parse_data_map(text, filename="map.yaml")
    return [(p.line, p.column, p.message) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


GOOD = """\
      - column: booking.price_cents
        label: {fr: Prix, en: Price}
        display: {money: {minor_units: true, currency: booking.currency}}
      - {column: booking.currency, label: {fr: Devise, en: Currency}}
      - {column: booking.country, label: {fr: Pays, en: Country}, display: {code: country}}
      - {column: booking.day, label: {fr: Jour, en: Day}, display: date}
      - column: booking.kind
        label: {fr: Formule, en: Plan}
        display: {code: {labels: {solo: {fr: Seul, en: Alone}, duo: Duo}}}
      - column: booking.court_id
        label: {fr: Court, en: Court}
        display: {reference: {table: court, key: id, label: name}}
"""


def test_each_kind_of_display_loads() -> None:
    data_map = parse_data_map(bookings_with(GOOD, group_by="[booking.court_id]"))
    fields = {f.column: f.display for f in data_map.categories["bookings"].fields}
    money = fields["booking.price_cents"]
    assert isinstance(money, MoneyDisplay) and money.money.currency_column == "booking.currency"
    assert fields["booking.country"] == CodeDisplay(code="country")
    assert fields["booking.day"] == "date"
    kinds = fields["booking.kind"]
    assert isinstance(kinds, CodeDisplay) and isinstance(kinds.code, CodeList)
    assert kinds.code.labels["duo"].fr == "Duo"
    assert isinstance(fields["booking.court_id"], ReferenceDisplay)
    assert fields["booking.starts_at"] is None
    assert data_map.categories["bookings"].group_by == ["booking.court_id"]


@pytest.mark.parametrize(
    ("display", "needle", "message"),
    [
        ("dates", "display: dates", "`display` is one of"),
        ("{code: countries}", "display: {code: countries}", "`countries` is not a list of codes"),
        ("{money: {currency: EURO}}", "display: {money", "`EURO` is neither an ISO 4217"),
        ("{money: {currency: EUR, cents: true}}", "display: {money", "unknown key `cents`"),
        ("{reference: {table: court, key: id}}", "display: {reference", "missing `label`"),
    ],
)
def test_a_bad_display_is_reported_at_its_line(display: str, needle: str, message: str) -> None:
    text = bookings_with(
        f"      - column: booking.x\n        label: X\n        display: {display}\n"
    )
    found = problems_of(text)
    line = line_of(text, needle)
    assert any(n == line and message in m for n, _, m in found), found


def test_a_currency_column_of_another_table_is_refused_at_its_line() -> None:
    text = bookings_with(
        "      - column: booking.price_cents\n"
        "        label: Prix\n"
        "        display: {money: {minor_units: true, currency: booking_note.currency}}\n"
        "      - {column: booking_note.currency, label: Devise}\n"
    )
    found = problems_of(text)
    line = line_of(text, "currency: booking_note.currency")
    assert any(n == line and "not in table `booking`" in m for n, _, m in found), found


def test_a_currency_column_must_be_a_field_of_the_category() -> None:
    text = bookings_with(
        "      - column: booking.price_cents\n"
        "        label: Prix\n"
        "        display: {money: {currency: booking.currency}}\n"
    )
    found = problems_of(text)
    line = line_of(text, "currency: booking.currency")
    assert any(
        n == line and "not a disclosed field of category `bookings`" in m for n, _, m in found
    ), found


def test_group_by_needs_a_field_shown_by_a_reference() -> None:
    text = bookings_with(GOOD, group_by="[booking.day]")
    found = problems_of(text)
    line = line_of(text, "group_by: [booking.day]")
    assert any(
        n == line and "groups its rows by `booking.day`" in m and "`reference` display" in m
        for n, _, m in found
    ), found


def test_group_by_of_an_unknown_field_suggests_the_closest() -> None:
    found = problems_of(bookings_with(GOOD, group_by="[booking.court]"))
    assert any("Did you mean `booking.court_id`?" in m for _, _, m in found), found
