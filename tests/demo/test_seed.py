"""The demo seeder: deterministic, realistic, and holding every case the data map must handle."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, text

from dsr.demo import schema
from dsr.demo.seed import REFERENCE_NOW, SAMPLE_LEARNER_EMAIL, seed_platform

Contents = dict[str, list[tuple[Any, ...]]]


def _normalised(value: Any) -> Any:
    """Compare values across databases: MariaDB and SQLite return naive UTC datetimes."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def contents(url: str) -> Contents:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(_normalised(value) for value in row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in schema.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """One seeded SQLite platform of 300 learners, read by the tests of its content."""
    url = sqlite_url(tmp_path_factory.mktemp("platform") / "platform.db")
    seed_platform(url, learners=300)
    engine = create_engine(url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def scalar(connection: Connection, sql: str, **params: Any) -> Any:
    return connection.execute(text(sql), params).scalar_one()


def sample_rows(connection: Connection) -> Contents:
    """Every row that belongs to the sample learner, table by table."""
    linked = {
        "learner": "id = 1",
        "invoice_line": "invoice_id IN (SELECT id FROM invoice WHERE learner_id = 1)",
        "support_thread": "id IN (SELECT thread_id FROM support_participant WHERE learner_id = 1)",
        "support_message": (
            "thread_id IN (SELECT thread_id FROM support_participant WHERE learner_id = 1)"
        ),
        "email_open": (
            "subscription_id IN (SELECT id FROM marketing_subscription WHERE learner_id = 1)"
        ),
    }
    rows: Contents = {}
    for table in schema.metadata.sorted_tables:
        if table.name in linked:
            condition = linked[table.name]
        elif "learner_id" in table.c:
            condition = "learner_id = 1"
        else:
            continue
        rows[table.name] = [
            tuple(row)
            for row in connection.execute(
                select(table).where(text(condition)).order_by(*table.primary_key.columns)
            )
        ]
    return rows


# determinism


def seed_in_subprocess(path: Path, *, seed: int, hash_seed: str) -> None:
    """Seed from a fresh interpreter: a set iterated anywhere would change the rows."""
    script = (
        "import sys; from dsr.demo.seed import seed_platform; "
        "seed_platform(sys.argv[1], learners=120, seed=int(sys.argv[2]))"
    )
    subprocess.run(
        [sys.executable, "-c", script, sqlite_url(path), str(seed)],
        check=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )


def test_the_same_seed_gives_the_same_database_file(tmp_path: Path) -> None:
    first, second, other = (tmp_path / f"{name}.db" for name in ("a", "b", "c"))
    seed_in_subprocess(first, seed=7, hash_seed="1")
    seed_in_subprocess(second, seed=7, hash_seed="2")
    seed_platform(sqlite_url(other), learners=120, seed=8)

    assert contents(sqlite_url(first)) == contents(sqlite_url(second))
    assert first.read_bytes() == second.read_bytes()
    assert contents(sqlite_url(first))["learner"] != contents(sqlite_url(other))["learner"]


def test_the_sample_learner_does_not_depend_on_size_or_seed(
    tmp_path: Path, platform: Connection
) -> None:
    url = sqlite_url(tmp_path / "small.db")
    seed_platform(url, learners=20, seed=11)
    engine = create_engine(url)
    try:
        with engine.connect() as small:
            small_rows = sample_rows(small)
    finally:
        engine.dispose()
    large_rows = sample_rows(platform)

    assert small_rows == large_rows


def test_summary_counts_every_table(tmp_path: Path) -> None:
    summary = seed_platform(sqlite_url(tmp_path / "p.db"), learners=50, events_per_learner=2)

    assert sorted(summary.counts) == sorted(schema.metadata.tables)
    assert summary.counts["learner"] == 50
    assert summary.counts["course"] == 40
    assert summary.total_rows == sum(summary.counts.values())
    assert summary.seconds > 0


# the cases a data map must handle


def test_the_sample_learner_has_a_row_in_every_table(platform: Connection) -> None:
    rows = sample_rows(platform)

    assert rows["learner"][0][1] == SAMPLE_LEARNER_EMAIL
    assert rows["learner"][0][4:6] == ("Zoé", "Lefèvre")
    assert {name for name, table_rows in rows.items() if not table_rows} == set()
    assert len(rows["payment_card"]) == 2
    assert len(rows["invoice"]) == 2
    assert len({row[2] for row in rows["tracking_event"]}) >= 2  # several cookie ids
    assert all(row[-1] is not None for row in rows["exam_registration"])  # sent to the CCI


def test_the_sample_learner_shares_a_thread_with_staff_replies(platform: Connection) -> None:
    authors = platform.execute(
        text(
            "SELECT DISTINCT author_learner_id FROM support_message WHERE thread_id IN "
            "(SELECT thread_id FROM support_participant WHERE learner_id = 1)"
        )
    ).scalars()

    assert set(authors) == {1, 2, None}


def test_some_addresses_differ_only_by_case(platform: Connection) -> None:
    pairs = platform.execute(
        text(
            "SELECT lower(email), count(*) FROM learner GROUP BY lower(email) "
            "HAVING count(*) > 1 ORDER BY 1"
        )
    ).all()

    assert pairs == [("jean.martin@example.com", 2), ("nguyen.thihoa@example.net", 2)]
    mostly_lower = scalar(platform, "SELECT count(*) FROM learner WHERE email = lower(email)")
    assert mostly_lower > 0.9 * 300


def test_look_alikes_of_the_sample_learner_exist(platform: Connection) -> None:
    namesakes = platform.execute(
        text("SELECT email FROM learner WHERE first_name = 'Zoé' AND last_name = 'Lefèvre'")
    ).scalars()

    assert sorted(namesakes) == ["lefevre.zoe@gmail.example", SAMPLE_LEARNER_EMAIL]
    assert scalar(platform, "SELECT count(*) FROM learner WHERE email = 'zoe.lefevte@example.org'")


def test_names_are_not_all_french(platform: Connection) -> None:
    names = set(
        platform.execute(text("SELECT first_name || ' ' || last_name FROM learner")).scalars()
    )

    assert {"Łukasz Wróblewski", "Ægir Þórsson", "Thị Hoa Nguyễn"} <= names
    assert any(re.search("[éèêëïôçÉ]", name) for name in names - {"Zoé Lefèvre"})


def test_shared_threads_have_two_learners_who_both_wrote(platform: Connection) -> None:
    shared = (
        platform.execute(
            text("SELECT thread_id FROM support_participant GROUP BY thread_id HAVING count(*) = 2")
        )
        .scalars()
        .all()
    )

    assert len(shared) >= 2
    for thread_id in shared:
        writers = scalar(
            platform,
            "SELECT count(DISTINCT author_learner_id) FROM support_message WHERE thread_id = :t",
            t=thread_id,
        )
        staff = scalar(
            platform,
            "SELECT count(*) FROM support_message "
            "WHERE thread_id = :t AND author_learner_id IS NULL",
            t=thread_id,
        )
        assert (writers, staff > 0) == (2, True)


def test_anonymous_visitors_are_about_a_tenth_of_tracking(platform: Connection) -> None:
    anonymous = scalar(platform, "SELECT count(*) FROM tracking_event WHERE learner_id IS NULL")
    known = scalar(platform, "SELECT count(*) FROM tracking_event WHERE learner_id IS NOT NULL")
    shared_cookies = scalar(
        platform,
        "SELECT count(*) FROM tracking_event a JOIN tracking_event b ON a.cookie_id = b.cookie_id "
        "WHERE a.learner_id IS NULL AND b.learner_id IS NOT NULL",
    )

    assert 0.08 * known < anonymous < 0.12 * known
    assert 7 * 300 < known < 13 * 300
    assert shared_cookies == 0


def test_prospects_have_no_account_but_subscriptions(platform: Connection) -> None:
    accounts = scalar(
        platform,
        "SELECT count(*) FROM prospect p JOIN learner l ON lower(l.email) = lower(p.email)",
    )
    subscriptions = scalar(
        platform,
        "SELECT count(*) FROM marketing_subscription m JOIN prospect p ON p.id = m.prospect_id "
        "WHERE m.learner_id IS NULL AND m.email = p.email",
    )
    opens = scalar(
        platform,
        "SELECT count(*) FROM email_open o JOIN marketing_subscription m "
        "ON m.id = o.subscription_id WHERE m.prospect_id IS NOT NULL",
    )

    assert scalar(platform, "SELECT count(*) FROM prospect") == 30
    assert accounts == 0
    assert subscriptions >= 30
    assert opens > 0


def test_cards_hold_only_a_token_and_the_last_four_digits(platform: Connection) -> None:
    columns = {column["name"] for column in inspect(platform).get_columns("payment_card")}
    cards = platform.execute(select(schema.payment_card)).all()

    assert not columns & {"number", "card_number", "pan", "cvv", "cvc"}
    assert cards
    for card in cards:
        assert re.fullmatch(r"pm_[0-9A-Za-z]{24}", card.psp_token)
        assert re.fullmatch(r"\d{4}", card.last4)
        assert not any(re.search(r"\d{12}", str(value)) for value in card)


def test_invoices_copy_the_billing_name_and_add_up(platform: Connection) -> None:
    mismatched = scalar(
        platform,
        "SELECT count(*) FROM invoice i JOIN learner l ON l.id = i.learner_id "
        "WHERE i.billing_name != l.first_name || ' ' || l.last_name "
        "OR i.billing_city IS NOT l.city",
    )
    wrong_totals = scalar(
        platform,
        "SELECT count(*) FROM invoice i WHERE total_cents != (SELECT sum(quantity * "
        "unit_price_cents) FROM invoice_line WHERE invoice_id = i.id)",
    )
    unlinked = scalar(
        platform,
        "SELECT count(*) FROM invoice_line l WHERE NOT EXISTS (SELECT 1 FROM course_purchase "
        "p WHERE p.invoice_id = l.invoice_id AND p.course_id = l.course_id)",
    )

    assert (mismatched, wrong_totals, unlinked) == (0, 0, 0)
    assert 1.5 < scalar(platform, "SELECT count(*) FROM invoice") / 300 < 2.5


def test_dates_fall_in_the_four_years_before_now(platform: Connection) -> None:
    now = REFERENCE_NOW.replace(tzinfo=None)
    for table in schema.metadata.sorted_tables:
        for column in table.columns:
            if column.type.python_type is not datetime:
                continue
            low, high = platform.execute(select(func.min(column), func.max(column))).one()
            if low is None:
                continue
            assert now - timedelta(days=4 * 366) < low, column
            assert high <= now, column


def test_some_learners_are_inactive_or_deactivated(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p.db")
    seed_platform(url, learners=2000, events_per_learner=0)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            never = scalar(connection, "SELECT count(*) FROM learner WHERE last_login_at IS NULL")
            inactive = scalar(
                connection,
                "SELECT count(*) FROM learner WHERE last_login_at < :limit",
                limit=REFERENCE_NOW - timedelta(days=731),
            )
            deactivated = scalar(
                connection,
                "SELECT count(*) FROM learner WHERE deactivated_at IS NOT NULL "
                "AND NOT login_enabled",
            )
            exams = connection.execute(
                text("SELECT count(*), count(sent_to_cci_at) FROM exam_registration")
            ).one()
            lower_case_pairs = scalar(
                connection,
                "SELECT count(*) FROM (SELECT lower(email) FROM learner "
                "GROUP BY lower(email) HAVING count(*) > 1)",
            )
            tracking = scalar(connection, "SELECT count(*) FROM tracking_event")
    finally:
        engine.dispose()

    assert 40 < never < 200
    assert 100 < inactive < 600
    assert 5 < deactivated < 100
    assert 450 < exams[0] < 750 and exams[1] > 0.7 * exams[0]
    assert lower_case_pairs == 2
    assert tracking == 8  # the sample learner's own events only


def test_refuses_to_add_to_a_seeded_platform_without_dropping(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p.db")
    seed_platform(url, learners=10, events_per_learner=0)

    with pytest.raises(ValueError, match="not empty"):
        seed_platform(url, learners=10, drop_existing=False)
    seed_platform(url, learners=12, events_per_learner=0)
    assert len(contents(url)["learner"]) == 12


def test_refuses_too_few_learners_and_a_naive_now(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p.db")
    with pytest.raises(ValueError, match="at least"):
        seed_platform(url, learners=3)
    with pytest.raises(ValueError, match="timezone"):
        seed_platform(url, learners=10, now=datetime(2026, 1, 1))


# other databases


@pytest.fixture(scope="module")
def reference_contents(tmp_path_factory: pytest.TempPathFactory) -> Contents:
    url = sqlite_url(tmp_path_factory.mktemp("reference") / "reference.db")
    seed_platform(url, learners=40, seed=5)
    return contents(url)


def test_postgresql_holds_the_same_rows_and_the_full_schema(
    postgresql_scratch_url: str, reference_contents: Contents
) -> None:
    url = postgresql_scratch_url
    seed_platform(url, learners=40, seed=5)
    seed_platform(url, learners=40, seed=5)  # dropping what is there first

    assert contents(url) == reference_contents
    engine: Engine = create_engine(url)
    try:
        inspector = inspect(engine)
        assert inspector.get_foreign_keys("tracking_event")
        assert "ix_learner_email_lower" in {i["name"] for i in inspector.get_indexes("learner")}
        with engine.begin() as connection:
            new_id = connection.execute(
                schema.learner.insert()
                .values(email="new@example.com", username="new", created_at=REFERENCE_NOW)
                .returning(schema.learner.c.id)
            ).scalar_one()
        assert new_id == 41
    finally:
        engine.dispose()


def test_mariadb_holds_the_same_rows(
    mariadb_scratch_url: str, reference_contents: Contents
) -> None:
    url = mariadb_scratch_url
    seed_platform(url, learners=40, seed=5)
    seed_platform(url, learners=40, seed=5)

    assert contents(url) == reference_contents
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            pairs = scalar(
                connection,
                "SELECT count(*) FROM learner WHERE lower(email) = 'jean.martin@example.com'",
            )
        assert pairs == 2
    finally:
        engine.dispose()


def test_a_seed_after_a_postgresql_one_still_creates_every_foreign_key(
    postgresql_scratch_url: str, mariadb_scratch_url: str, tmp_path: Path
) -> None:
    """PostgreSQL adds its foreign keys after the load: the next seed in the same process, on
    another engine, must still create them with the tables (and its rows must satisfy them)."""
    seed_platform(postgresql_scratch_url, learners=10, seed=5)
    expected = {t.name: len(t.foreign_key_constraints) for t in schema.metadata.sorted_tables}
    for url in (sqlite_url(tmp_path / "after.db"), mariadb_scratch_url):
        seed_platform(url, learners=10, seed=5)
        engine = create_engine(url)
        try:
            inspector = inspect(engine)
            found = {name: len(inspector.get_foreign_keys(name)) for name in expected}
            assert found == expected, url
        finally:
            engine.dispose()
    engine = create_engine(sqlite_url(tmp_path / "after.db"))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    finally:
        engine.dispose()


def test_dates_are_plain_dates_where_the_schema_says_so(platform: Connection) -> None:
    session, born = platform.execute(
        select(schema.exam_registration.c.session_date, schema.exam_registration.c.birth_date)
    ).first() or (None, None)

    assert isinstance(session, date) and isinstance(born, date)
