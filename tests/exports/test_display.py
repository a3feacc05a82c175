"""A value as its field's `display` says it reads, in French and in English (Babel, CLDR)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from exports.display import shown_text
from inventory.model import Field_
from inventory.reference_labels import Labels

PARIS = ZoneInfo("Europe/Paris")
LABELS: Labels = {"shop.course.id.title": {"24": "Préparation au TEF Canada"}}


def shown(display: Any, value: Any, lang: str = "fr", row: dict[str, Any] | None = None) -> Any:
    field = Field_.model_validate({"column": "t.c", "label": "C", "display": display})
    return shown_text(
        field,
        value,
        lang=lang,
        system="shop",
        row=row or {},
        labels=LABELS,
        zone=PARIS,
        stored_zone=PARIS,
    )


@pytest.mark.parametrize(("lang", "expected"), [("fr", "389,00\u00a0€"), ("en", "€389.00")])
def test_minor_units_are_shown_in_the_rows_currency(lang: str, expected: str) -> None:
    money = {"money": {"minor_units": True, "currency": "t.currency"}}
    assert shown(money, 38900, lang, {"currency": "EUR"}) == expected


def test_a_fixed_currency_and_its_own_minor_units() -> None:
    assert shown({"money": {"currency": "EUR"}}, 12.5, "fr") == "12,50\u00a0€"
    yen = {"money": {"minor_units": True, "currency": "JPY"}}
    assert shown(yen, 1500, "en") == "¥1,500"


def test_an_unknown_currency_shows_the_number_and_the_code_as_stored() -> None:
    money = {"money": {"minor_units": True, "currency": "t.currency"}}
    assert shown(money, 38900, "fr", {"currency": "XYZ1"}) == "389 XYZ1"
    assert shown(money, "not a number", "fr", {"currency": "EUR"}) == "not a number"


@pytest.mark.parametrize(
    ("kind", "code", "lang", "expected"),
    [
        ("country", "FR", "fr", "France"),
        ("country", "DE", "en", "Germany"),
        ("country", "DE", "fr", "Allemagne"),
        ("language", "fr", "fr", "français"),
        ("language", "fr", "en", "French"),
        ("language", "en", "fr", "anglais"),
        ("country", "ZZ9", "fr", "ZZ9"),
        ("language", "qqq-!!", "en", "qqq-!!"),
    ],
)
def test_standard_codes_are_named_in_the_readers_language(
    kind: str, code: str, lang: str, expected: str
) -> None:
    assert shown({"code": kind}, code, lang) == expected


def test_the_organisations_own_list_names_its_codes_and_leaves_others() -> None:
    lists = {
        "code": {
            "prefix": True,
            "labels": {"newsletter": {"fr": "Lettre d'information", "en": "Newsletter"}},
        }
    }
    assert shown(lists, "newsletter", "fr") == "Lettre d'information"
    assert shown(lists, "newsletter-2026-09", "en") == "Newsletter 2026-09"
    assert shown(lists, "promo-2026", "fr") == "promo-2026"
    exact = {"code": {"labels": {"newsletter": "Lettre"}}}
    assert shown(exact, "newsletter-2026-09", "fr") == "newsletter-2026-09"


def test_a_reference_is_shown_by_the_label_read_with_the_collection() -> None:
    course = {"reference": {"table": "course", "key": "id", "label": "title"}}
    assert shown(course, 24, "en") == "Préparation au TEF Canada"
    assert shown(course, 999, "en") == "999"


def test_a_date_is_never_shown_with_a_time() -> None:
    midnight_utc = datetime(2026, 9, 22, 0, 0, tzinfo=UTC)
    assert shown("date", midnight_utc, "fr") == "22/09/2026"
    assert shown("date", date(2026, 9, 22), "en") == "22 Sep 2026"
    assert shown("date", "2026-09-22 00:00:00", "fr") == "22/09/2026"
    assert shown("date", "someday", "fr") == "someday"


def test_a_timestamp_is_shown_to_the_minute_in_the_organisations_zone() -> None:
    assert shown("timestamp", datetime(2026, 9, 22, 0, 0, tzinfo=UTC), "fr") == "22/09/2026 02:00"
    assert shown("timestamp", datetime(2026, 1, 5, 9, 30), "fr") == "05/01/2026 09:30"


def test_an_empty_value_or_a_field_without_display_is_left_to_the_caller() -> None:
    assert shown({"code": "country"}, None) is None
    assert shown({"code": "country"}, "") is None
    assert shown(None, "FR") is None
