"""The certificate's list of kept records stays readable however many there are: each last day
with its count up to eight days, then the range and a count per year."""

from __future__ import annotations

from datetime import date, timedelta
from gettext import NullTranslations

from exports.certificate_kept import CategoryOutcome, is_withdrawn, kept_days
from inventory.model import ErasureAction


def kept(days: list[date | None], withdrawn: int = 0) -> CategoryOutcome:
    return CategoryOutcome(
        "invoices", ErasureAction.RETAIN, len(days), ("invoice",), withdrawn, tuple(days)
    )


def test_a_few_kept_records_are_listed_day_by_day() -> None:
    said = kept_days(
        kept([date(2034, 12, 31), date(2036, 12, 31), date(2036, 12, 31), None]),
        "en",
        NullTranslations(),
    )
    assert said.splitlines() == [
        "31 December 2034 (1 record)",
        "31 December 2036 (2 records)",
        "1 record has no date: no end can be computed",
    ]


def test_many_kept_records_are_given_as_a_range_with_a_count_per_year() -> None:
    days: list[date | None] = [date(2030, 1, 1) + timedelta(days=40 * n) for n in range(300)]
    said = kept_days(kept(days), "en", NullTranslations()).splitlines()
    last = max(d for d in days if d is not None)
    assert said[0] == (
        f"from 1 January 2030 to {last.day} {last:%B} {last.year}, each record on its own day; "
        "per year:"
    )
    assert len(said) == 1 + len({d.year for d in days if d is not None})
    assert said[1] == "2030 (10 records)"


def test_kept_records_are_withdrawn_only_when_all_of_them_were() -> None:
    two = [date(2034, 12, 31), date(2036, 12, 31)]
    assert is_withdrawn(kept(two, withdrawn=2))
    assert not is_withdrawn(kept(two, withdrawn=1))
    assert not is_withdrawn(kept(two, withdrawn=0))
