"""Kept data, from the map alone and on a small club's database: the last day a record is kept,
counted from the close of the financial (or calendar) year, is the day after which the retention
sweep takes it; anonymised rows linked to kept rows that name the person are not anonymous; the
map's checks for the financial year's end and for withdrawals; `dsr map check`'s warning."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
)

from inventory.identification import still_identifying
from inventory.kept import withdrawal_warnings
from inventory.loader import MapError, load_data_map, parse_data_map
from inventory.model import DataMap, Duration, Retention
from inventory.periods import close_of, kept_until, retention_cutoff
from inventory.retention import plan_retention, sweep_category
from inventory.systems import Systems

HERE = Path(__file__).parent
MINIMAL = yaml.safe_load((HERE / "minimal_map.yaml").read_text(encoding="utf-8"))
POINT3_MAP = HERE.parents[1] / "data_map.yaml"

INVOICES: dict[str, Any] = {
    "title": {"fr": "Factures", "en": "Invoices"},
    "description": {"fr": "Vos factures", "en": "Your invoices"},
    "system": "club",
    "fields": [
        {"column": "invoice.issued_at", "label": {"fr": "Date", "en": "Date"}},
        {
            "column": "invoice.billing_name",
            "label": {"fr": "Nom de facturation", "en": "Billing name"},
            "identifying": True,
        },
    ],
    "purposes": [{"fr": "Comptabilité", "en": "Accounting"}],
    "legal_basis": "legal_obligation",
    "retention": {
        "period": "P10Y",
        "from": "invoice.issued_at",
        "from_close_of": "financial_year",
        "at_end": "delete",
        "source": {"fr": "L123-22", "en": "L123-22"},
    },
    "source": {"fr": "Nous", "en": "Us"},
    "provenance": "provided",
    "erasure": {
        "action": "retain",
        "legal_reason": {"fr": "L123-22", "en": "L123-22"},
        "until": {"fr": "10 ans", "en": "10 years"},
        "withdraw": [{"system": "club", "column": "invoice.restricted", "value": True}],
    },
}


def club_document(**organisation: Any) -> dict[str, Any]:
    """The minimal club map with kept invoices whose period runs from the financial year's close."""
    document = copy.deepcopy(MINIMAL)
    document["organisation"].update({"financial_year_end": "06-30", **organisation})
    document["systems"]["club"]["tables"]["invoice"] = {
        "primary_key": "id",
        "links": [{"column": "member_id", "to": "member.id"}],
    }
    document["categories"]["invoices"] = copy.deepcopy(INVOICES)
    document["activities"]["membership"]["categories"].append("invoices")
    return document


def club_map(document: dict[str, Any] | None = None) -> DataMap:
    return parse_data_map(yaml.safe_dump(document or club_document(), allow_unicode=True))


def retention(period: str, close: str | None = None) -> Retention:
    given: dict[str, Any] = {"period": period, "from": "t.c", "source": "s"}
    if close:
        given["from_close_of"] = close
    return Retention.model_validate(given)


def test_the_close_of_a_financial_year_and_the_last_day_kept() -> None:
    organisation = club_map().organisation
    assert close_of(date(2026, 3, 15), (6, 30)) == date(2026, 6, 30)
    assert close_of(date(2026, 7, 1), (6, 30)) == date(2027, 6, 30)
    assert close_of(date(2028, 2, 29), (2, 28)) == date(2028, 2, 29)  # the end of February
    fiscal = retention("P10Y", "financial_year")
    assert kept_until(datetime(2026, 6, 30, 23, 59, tzinfo=UTC), fiscal, organisation) == date(
        2036, 6, 30
    )
    assert kept_until(datetime(2026, 7, 1, tzinfo=UTC), fiscal, organisation) == date(2037, 6, 30)
    calendar_year = retention("P10Y", "calendar_year")
    assert kept_until(date(2026, 1, 1), calendar_year, organisation) == date(2036, 12, 31)
    own_date = retention("P13M")
    assert kept_until(datetime(2026, 1, 31, 10, tzinfo=UTC), own_date, organisation) == date(
        2027, 2, 28
    )
    assert kept_until(date(2026, 1, 31), own_date, organisation) == date(2027, 2, 28)


def test_a_financial_year_start_needs_the_years_end() -> None:
    document = club_document()
    del document["organisation"]["financial_year_end"]
    with pytest.raises(MapError, match="financial_year_end"):
        club_map(document)
    with pytest.raises(MapError, match="MM-DD"):
        club_map(club_document(financial_year_end="31/12"))
    with pytest.raises(MapError, match="02-28"):
        club_map(club_document(financial_year_end="02-29"))


def test_only_kept_data_is_withdrawn_and_only_through_its_own_tables() -> None:
    document = club_document()
    document["categories"]["bookings"]["erasure"]["withdraw"] = [
        {"system": "club", "column": "booking.starts_at", "value": None}
    ]
    with pytest.raises(MapError, match="only an erasure that retains data can `withdraw`"):
        club_map(document)
    document = club_document()
    document["categories"]["invoices"]["erasure"]["withdraw"] = [
        {"system": "club", "column": "member.email", "value": "x"}
    ]
    with pytest.raises(MapError, match="can only set columns of its own tables"):
        club_map(document)


def test_map_check_warns_where_kept_rows_stay_in_use() -> None:
    assert withdrawal_warnings(club_map()) == []
    document = club_document()
    del document["categories"]["invoices"]["erasure"]["withdraw"]
    [warning] = withdrawal_warnings(club_map(document))
    assert "`invoices`" in warning and "club.invoice" in warning
    assert withdrawal_warnings(load_data_map(POINT3_MAP)) == []  # invoice lines follow invoices


# --- the sweep and the certificate agree -------------------------------------------------------

ISSUED = [
    datetime(2026, 6, 30, 23, 59),  # the last minute of a financial year
    datetime(2026, 7, 1, 0, 0),  # the first of the next
    datetime(2027, 1, 15, 9, 30),
    datetime(2028, 2, 29, 12, 0),  # a leap day
    datetime(2028, 6, 30, 0, 0),
]


def club_database(url: str, issued: list[datetime]) -> None:
    metadata = MetaData()
    Table(
        "member",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(60), nullable=False),
        Column("full_name", String(60)),
        Column("joined_at", DateTime),
    )
    Table(
        "booking",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", Integer, ForeignKey("member.id")),
        Column("starts_at", DateTime),
    )
    Table(
        "booking_note",
        metadata,
        Column("booking_id", Integer, ForeignKey("booking.id"), primary_key=True),
        Column("line", Integer, primary_key=True),
        Column("text", String(200)),
    )
    invoice = Table(
        "invoice",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", Integer, ForeignKey("member.id"), nullable=False),
        Column("issued_at", DateTime, nullable=False),
        Column("billing_name", String(60), nullable=False),
        Column("restricted", Boolean, nullable=False),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(metadata.tables["member"].insert(), [{"id": 1, "email": "a@club.example"}])
        conn.execute(
            invoice.insert(),
            [
                {
                    "id": n,
                    "member_id": 1,
                    "issued_at": at,
                    "billing_name": "Alice Martin",
                    "restricted": False,
                }
                for n, at in enumerate(issued, start=1)
            ],
        )
    engine.dispose()


def test_the_sweep_takes_each_kept_record_the_day_after_the_one_the_certificate_gives(
    tmp_path: Path,
) -> None:
    data_map = club_map()
    url = f"sqlite:///{(tmp_path / 'club.sqlite3').as_posix()}"
    club_database(url, ISSUED)
    rule = data_map.categories["invoices"].retention
    last_days = [kept_until(at, rule, data_map.organisation) for at in ISSUED]
    assert last_days[:3] == [date(2036, 6, 30), date(2037, 6, 30), date(2037, 6, 30)]
    instants = sorted(
        datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC) + timedelta(days=shift)
        for d in last_days
        for shift in (-1, 0, 1)
    )
    with Systems(data_map, {"CLUB_DB_URL": url}).opened() as systems:
        for now in instants:
            plan = plan_retention(data_map, systems, now)
            [sweep] = [s for s in plan.sweeps if s.category == "invoices"]
            expected = sum(1 for day in last_days if day < now.date())
            assert sweep.rows == expected, now


@pytest.mark.parametrize(
    ("close", "expected"),
    [
        ("financial_year", [(2036, 6, 30), (2037, 6, 30), (2037, 6, 30), (2038, 6, 30)]),
        ("calendar_year", [(2036, 12, 31), (2036, 12, 31), (2037, 12, 31), (2038, 12, 31)]),
    ],
)
def test_the_sweep_deletes_each_kept_record_after_the_close_of_its_year(
    tmp_path: Path, close: str, expected: list[tuple[int, int, int]]
) -> None:
    """End to end: the invoices are deleted (`at_end`) the day after the last day the certificate
    gives, counted from the close of the financial year (30 June, from the map's organisation) or
    of the calendar year."""
    document = club_document()
    document["categories"]["invoices"]["retention"]["from_close_of"] = close
    data_map = club_map(document)
    url = f"sqlite:///{(tmp_path / 'club.sqlite3').as_posix()}"
    club_database(url, ISSUED)
    rule = data_map.categories["invoices"].retention
    last_days = [kept_until(at, rule, data_map.organisation) for at in ISSUED]
    assert last_days[:4] == [date(*day) for day in expected]
    engine = create_engine(url)
    with Systems(data_map, {"CLUB_DB_URL": url}).opened() as systems:
        for day in sorted(set(last_days)):
            for shift in (0, 1):
                now = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
                now += timedelta(days=shift)
                sweep_category(data_map, systems, "invoices", now, secret_key=b"k")
                with engine.connect() as conn:
                    left = conn.execute(text("SELECT count(*) FROM invoice")).scalar_one()
                assert left == sum(1 for d in last_days if d >= now.date()), now
    engine.dispose()


def test_a_period_from_the_date_itself_still_subtracts_by_calendar() -> None:
    assert retention_cutoff(Duration.parse("P1M"), datetime(2026, 3, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )


# --- anonymous or pseudonymous ----------------------------------------------------------------


def test_anonymised_rows_linked_to_kept_rows_that_name_the_person_are_pseudonymous() -> None:
    data_map = club_map()
    ties = still_identifying(data_map, "contact", kept={"invoices"})
    assert list(ties.linked) == ["invoices"]
    assert [f.column for f in ties.linked["invoices"]] == ["invoice.billing_name"]
    assert not still_identifying(data_map, "contact", kept=set())  # nothing kept: anonymous

    document = club_document()
    document["categories"]["invoices"]["fields"][1]["identifying"] = False
    assert not still_identifying(club_map(document), "contact", kept={"invoices"})

    document = club_document()
    document["categories"]["contact"]["fields"][0]["anonymize"] = "keyed_hash"
    own = still_identifying(club_map(document), "contact", kept=set())
    assert [f.column for f in own.own_fields] == ["member.email"]  # an email identity, hashed


def test_point3s_learner_row_stays_tied_to_the_kept_invoices() -> None:
    data_map = load_data_map(POINT3_MAP)
    for category in ("contact", "account"):
        ties = still_identifying(data_map, category, kept={"invoices"})
        assert list(ties.linked) == ["invoices"], category
        assert {f.column for f in ties.linked["invoices"]} == {
            "invoice.billing_name",
            "invoice.billing_street",
        }
        assert ties.own_fields == ()
        assert not still_identifying(data_map, category, kept=set())
