"""The erasure engine on the demo platform (POINT3's map) and the web shop, on all three engines.

Each test seeds its own database. Whole-table snapshots taken before and after show that exactly
the planned rows changed: the sample learner's colleague in the shared support thread and her
look-alikes are untouched.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SAWarning

from dsr.demo import schema as demo_schema
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.languages import Language, translations
from inventory.anonymisation import ErasurePlanError, column_rules, per_row_value
from inventory.erasure import (
    SystemOutcome,
    _reason,
    execute_erasure,
    plan_erasure,
    verify_erased,
)
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import AnonymizeStrategy, DataMap, ErasureAction
from inventory.phrases import said
from inventory.systems import Systems
from tests.webshop.schema import ALICE_EMAIL, seed_webshop

ROOT = Path(__file__).parents[2]
SYSTEM = "learner_platform"
SECRET = b"test-secret-key"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
Snapshot = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]

#: The sample learner's rows the erasure deletes (dsr/demo/seed.py writes them by hand), except
#: her tracking events, counted from the database. Thread 1 is shared with her colleague (id 2).
ZOE_DELETED: dict[str, set[tuple[Any, ...]]] = {
    "learner_profile": {(1,)},
    "payment_card": {(1,), (2,)},
    "course_purchase": {(1,), (2,), (3,), (4,)},
    "course_interest": {(1,), (2,)},
    "course_comment": {(1,), (2,)},
    "quiz_answer": {(1,), (2,), (3,)},
    "survey_response": {(1,), (2,)},
    "support_participant": {(1, 1), (2, 1)},
    "support_thread": {(2,)},
    "support_message": {(1,), (4,), (6,), (7,)},
    "exam_registration": {(1,)},
    "email_open": {(1,), (2,), (3,)},
    "marketing_subscription": {(1,), (2,)},
}


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(ROOT / "data_map.yaml")


@pytest.fixture(scope="module")
def shop_map() -> DataMap:
    return load_data_map(ROOT / "tests" / "webshop" / "webshop_map.yaml")


@pytest.fixture
def platform_url(engine_url: str) -> str:
    seed_platform(engine_url, learners=30)
    return engine_url


@pytest.fixture
def systems(point3_map: DataMap, platform_url: str) -> Iterator[Systems]:
    with Systems(point3_map, {"POINT3_PLATFORM_URL": platform_url}).opened() as opened:
        yield opened


def snapshot(url: str) -> Snapshot:
    """Return every row of every table of the database, by primary key."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            metadata.reflect(engine)
        with engine.connect() as conn:
            found: Snapshot = {}
            for table in metadata.sorted_tables:
                pk = [c.name for c in table.primary_key.columns]
                found[table.name] = {
                    tuple(row._mapping[c] for c in pk): tuple(row)
                    for row in conn.execute(select(table))
                }
            return found
    finally:
        engine.dispose()


def erase(data_map: DataMap, systems: Systems, email: str, **options: Any) -> list[SystemOutcome]:
    location = locate_subject(data_map, systems, "email", email)
    return execute_erasure(data_map, systems, location, secret_key=SECRET, now=NOW, **options)


def zoe_tracking(before: Snapshot) -> set[tuple[Any, ...]]:
    return {key for key, row in before["tracking_event"].items() if row[1] == 1}


def test_the_plan_of_the_sample_learner(point3_map: DataMap, systems: Systems) -> None:
    location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    plan = plan_erasure(point3_map, systems, location)
    assert plan.blocked == []
    assert list(plan.by_system()) == [SYSTEM]
    found = {(s.table, s.category, s.action): s.row_count for s in plan.steps}
    expected = {
        (t, _category(point3_map, t), ErasureAction.DELETE): len(k) for t, k in ZOE_DELETED.items()
    }
    expected[("tracking_event", "tracking", ErasureAction.DELETE)] = 8
    expected |= {
        ("support_thread", "support", ErasureAction.RETAIN): 1,  # shared with her colleague
        ("support_message", "support", ErasureAction.RETAIN): 2,  # the staff's replies in it
        ("invoice", "invoices", ErasureAction.RETAIN): 2,
        ("invoice_line", "invoices", ErasureAction.RETAIN): 3,
        ("learner", "contact", ErasureAction.ANONYMIZE): 1,
        ("learner", "account", ErasureAction.ANONYMIZE): 1,
    }
    assert found == expected
    steps = {(s.table, s.category, s.action): s for s in plan.steps}
    contact = steps[("learner", "contact", ErasureAction.ANONYMIZE)]
    assert contact.new_values["email"] == "unique placeholder"
    assert contact.new_values["first_name"] == "NULL"
    assert contact.new_values["preferred_language"] == "fixed: fr"
    account = steps[("learner", "account", ErasureAction.ANONYMIZE)].new_values
    assert account["created_at"] == "year only"
    assert account["login_enabled"] == "fixed: false"
    invoices = steps[("invoice", "invoices", ErasureAction.RETAIN)]
    assert invoices.legal_reason is not None and "L123-22" in invoices.legal_reason.fr
    assert invoices.until is not None
    shared = steps[("support_thread", "support", ErasureAction.RETAIN)]
    assert shared.legal_reason is not None and "Shared" in shared.legal_reason.en
    order = {s.table: s.order for s in plan.steps}
    for child, parent in [
        ("support_message", "support_thread"),
        ("support_participant", "support_thread"),
        ("email_open", "marketing_subscription"),
        ("invoice_line", "invoice"),
        ("course_purchase", "invoice"),
        ("tracking_event", "learner"),
        ("invoice", "learner"),
    ]:
        assert order[child] < order[parent], (child, parent)


def _category(data_map: DataMap, table: str) -> str:
    return next(c for c, _ in data_map.fields_of_table(SYSTEM, table))


def test_erasure_changes_exactly_the_planned_rows(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    before = snapshot(platform_url)
    deleted = {**ZOE_DELETED, "tracking_event": zoe_tracking(before)}
    [outcome] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    assert outcome.status == "done", outcome.error
    assert outcome.rows_deleted == sum(len(keys) for keys in deleted.values())
    assert outcome.rows_anonymized == 1
    assert outcome.rows_retained == 2 + 3 + 1 + 2  # invoices, lines, shared thread, replies
    assert outcome.rows_withdrawn == 2  # her two invoices, flagged as the map's withdraw says
    after = snapshot(platform_url)
    expected_changes = {"learner": {(1,)}, "invoice": {(1,), (2,)}}
    for table, rows in before.items():
        gone = deleted.get(table, set())
        assert set(after[table]) == set(rows) - gone, table
        changed = {key for key in after[table] if after[table][key] != rows[key]}
        assert changed == expected_changes.get(table, set()), table
    restricted = [c.name for c in demo_schema.invoice.columns].index("restricted")
    for key in expected_changes["invoice"]:
        old, new = before["invoice"][key], after["invoice"][key]
        assert [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b] == [restricted]
        assert new[restricted] in (True, 1)
    # Her colleague keeps the shared thread, his participation and message, and the staff replies.
    assert (1,) in after["support_thread"]
    assert set(after["support_message"]) >= {(2,), (3,), (5,)}
    assert (1, 2) in after["support_participant"]


def test_the_anonymised_learner_keeps_the_constraints(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    look_alike = "lefevre.zoe@gmail.example"
    for email in (SAMPLE_LEARNER_EMAIL, look_alike):
        [outcome] = erase(point3_map, systems, email)
        assert outcome.status == "done", outcome.error
    learner = systems.tables(SYSTEM)["learner"]
    query = select(learner).where(learner.c.id.in_([1, 3])).order_by(learner.c.id)
    with systems.engine(SYSTEM).connect() as conn:
        rows = conn.execute(query).mappings().all()
    emails = [row["email"] for row in rows]
    assert all(e.startswith("erased-") and e.endswith("@erased.invalid") for e in emails)
    assert len(set(emails)) == 2 and all(len(e) <= 254 for e in emails)
    assert all(row["username"].startswith("erased-") for row in rows)
    assert rows[0]["username"] != rows[1]["username"]
    for row in rows:
        assert row["first_name"] is None and row["phone"] is None and row["password_hash"] is None
        assert row["preferred_language"] == "fr"
        assert not row["login_enabled"] and row["restricted"]
        assert (row["created_at"].month, row["created_at"].day, row["created_at"].hour) == (1, 1, 0)


def test_a_second_run_changes_nothing(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    [first] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
    assert first.status == "done", first.error
    after_first = snapshot(platform_url)
    # The same (now stale) location: every row is gone or already anonymous.
    [again] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
    assert (again.status, again.rows_deleted, again.rows_anonymized) == ("done", 0, 0)
    # A fresh search by her address finds nothing more to do.
    [fresh] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    assert (fresh.status, fresh.rows_deleted, fresh.rows_anonymized) == ("done", 0, 0)
    assert snapshot(platform_url) == after_first


def test_after_the_erasure_no_delete_category_is_found(
    point3_map: DataMap, systems: Systems
) -> None:
    before = verify_erased(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    assert set(before) == {
        c
        for c, cat in point3_map.categories.items()
        # she neither took part in a referral nor offered a course (tests/inventory/
        # test_two_people.py covers those)
        if cat.erasure.action is ErasureAction.DELETE
        and c not in {"prospects", "referrals", "course_gifts"}
    }
    [outcome] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    assert outcome.status == "done", outcome.error
    assert verify_erased(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL) == []
    assert verify_erased(point3_map, systems, "learner_id", "1") == []


def test_a_foreign_key_the_map_does_not_know_blocks_the_erasure(
    point3_map: DataMap, platform_url: str
) -> None:
    extra = MetaData()
    note = Table(
        "exam_result_note",
        extra,
        Column("id", Integer, primary_key=True),
        Column(
            "registration_id",
            Integer,
            ForeignKey("exam_registration.id", name="fk_note_registration"),
            nullable=False,
        ),
        Column("note", String(100), nullable=False),
    )
    # A reference to the learner row does not block: that row is anonymised, not deleted.
    badge = Table(
        "learner_badge",
        extra,
        Column("id", Integer, primary_key=True),
        Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False),
    )
    Table("exam_registration", extra, Column("id", Integer, primary_key=True))
    Table("learner", extra, Column("id", Integer, primary_key=True))
    engine = create_engine(platform_url)
    try:
        extra.create_all(engine, tables=[note, badge])
        with engine.begin() as conn:
            conn.execute(insert(note).values(id=1, registration_id=1, note="oral 15/20"))
            conn.execute(insert(badge).values(id=1, learner_id=1))
    finally:
        engine.dispose()
    before = snapshot(platform_url)
    with Systems(point3_map, {"POINT3_PLATFORM_URL": platform_url}).opened() as systems:
        location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
        plan = plan_erasure(point3_map, systems, location)
        assert len(plan.blocked) == 1
        assert "exam_result_note" in plan.blocked[0] and "exam_registration" in plan.blocked[0]
        [outcome] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
    assert outcome.status == "failed"
    assert outcome.error is not None and "exam_result_note" in outcome.error
    assert "oral" not in outcome.error
    assert said(outcome.error, translations(Language.FR).gettext).startswith(
        "effacement bloqué : la table `exam_result_note`, que la cartographie ne connaît pas"
    )
    assert snapshot(platform_url) == before


def test_null_in_a_not_null_column_fails_the_plan(point3_map: DataMap, systems: Systems) -> None:
    raw = yaml.safe_load((ROOT / "data_map.yaml").read_text(encoding="utf-8"))
    for f in raw["categories"]["account"]["fields"]:
        if f["column"] == "learner.username":
            f["anonymize"] = "null"
    broken = DataMap.model_validate(raw)
    location = locate_subject(broken, systems, "email", SAMPLE_LEARNER_EMAIL)
    with pytest.raises(ErasurePlanError, match="learner.username.*NOT NULL"):
        plan_erasure(broken, systems, location)
    [outcome] = execute_erasure(broken, systems, location, secret_key=SECRET, now=NOW)
    assert outcome.status == "failed" and "NOT NULL" in (outcome.error or "")
    french = said(outcome.error or "", translations(Language.FR).gettext)  # as staff read it
    assert "la colonne `learner.username` de `learner_platform` est NOT NULL, mais" in french


def test_a_database_failure_is_said_in_the_staffs_language() -> None:
    """Why a system failed is English in logs and French for staff who read French."""
    failure = IntegrityError("UPDATE learner ...", {}, Exception("duplicate"))
    reason = _reason(failure, "learner")
    assert reason == (
        "a constraint of the database refused the change while changing `learner`; nothing "
        "was changed"
    )
    assert said(reason, translations(Language.FR).gettext) == (
        "une contrainte de la base de données a refusé la modification pendant la modification "
        "de `learner` ; rien n'a été modifié"
    )


def test_only_the_systems_asked_for_are_changed(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    before = snapshot(platform_url)
    [outcome] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL, only_systems=[])
    assert outcome.status == "skipped"
    assert snapshot(platform_url) == before


@pytest.mark.databases("postgresql")
def test_a_connection_killed_mid_erasure_changes_nothing_and_the_retry_completes(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    before = snapshot(platform_url)
    engine = systems.engine(SYSTEM)
    admin = create_engine(platform_url, isolation_level="AUTOCOMMIT")
    batches: list[str] = []

    def kill_after_first_batch(conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("DELETE FROM tracking_event"):
            batches.append(statement)
            if len(batches) == 2:  # between the first and the second batch
                pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
                with admin.connect() as killer:
                    killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(engine, "before_cursor_execute", kill_after_first_batch)
    try:
        [failed] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL, batch_size=3)
    finally:
        event.remove(engine, "before_cursor_execute", kill_after_first_batch)
        admin.dispose()
    # On PostgreSQL the statements go in one pipeline: the kill lands while the server is at one
    # of those sent before the second batch, and the reason names that one's table, or says
    # it was planning when it was the read of the kept invoices' dates, sent first.
    assert len(batches) >= 2
    assert failed.status == "failed"
    assert failed.error is not None and "connection" in failed.error
    assert "DELETE" not in failed.error
    changed = [*ZOE_DELETED, "tracking_event", "invoice", "learner"]
    assert "while planning" in failed.error or any(
        f"while changing `{table}`" in failed.error for table in changed
    )
    assert snapshot(platform_url) == before

    [retry] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL, batch_size=3)
    assert retry.status == "done", retry.error
    assert retry.rows_deleted == sum(map(len, ZOE_DELETED.values())) + len(zoe_tracking(before))
    assert verify_erased(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL) == []


REFUSE_DELETE = {
    "postgresql": [
        "CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'kept by the archive'; END $$",
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON payment_card "
        "FOR EACH ROW EXECUTE FUNCTION refuse_delete()",
    ],
    "mysql": [
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON payment_card FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'kept by the archive'"
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON payment_card "
        "BEGIN SELECT RAISE(ABORT, 'kept by the archive'); END"
    ],
}


def test_a_write_the_database_refuses_names_its_table_and_changes_nothing(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    """The writes of a system go together (one pipeline on PostgreSQL): when the database refuses
    one in the middle, the reason names that one's table, and nothing of the others stays."""
    engine = create_engine(platform_url)
    try:
        with engine.begin() as conn:
            for statement in REFUSE_DELETE[engine.dialect.name]:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    before = snapshot(platform_url)
    [failed] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    assert failed.status == "failed"
    assert failed.error is not None and "`payment_card`" in failed.error
    assert "archive" not in failed.error and "DELETE" not in failed.error
    assert snapshot(platform_url) == before


@pytest.mark.databases("postgresql")
def test_on_postgresql_a_systems_writes_go_together(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    """The writes of the sample learner's erasure are all sent in libpq pipelines: the delete by
    a composite key (her place in the shared support thread) too, and the learner's row, whose
    anonymous values the database computes (nothing of it is read)."""
    from psycopg import pq

    sent: list[tuple[str, str, bool]] = []

    def watch(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        driver: Any = conn.connection.driver_connection
        pipelined = driver.pgconn.pipeline_status != pq.PipelineStatus.OFF
        words = statement.split()
        kind = words[0]
        if kind in ("DELETE", "UPDATE"):
            sent.append((kind, words[2] if kind == "DELETE" else words[1], pipelined))

    engine = systems.engine(SYSTEM)
    event.listen(engine, "before_cursor_execute", watch)
    try:
        [outcome] = erase(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert outcome.status == "done", outcome.error
    alone = [(kind, table) for kind, table, pipelined in sent if not pipelined]
    assert alone == []
    assert ("DELETE", "support_participant") in [(kind, table) for kind, table, _ in sent]
    assert ("UPDATE", "learner") in [(kind, table) for kind, table, _ in sent]
    assert len(sent) > 10


def test_the_web_shop_erases_alice_with_no_code_change(shop_map: DataMap, engine_url: str) -> None:
    seed_webshop(engine_url)
    before = snapshot(engine_url)
    with Systems(shop_map, {"SHOP_DB_URL": engine_url}).opened() as systems:
        location = locate_subject(shop_map, systems, "email", ALICE_EMAIL)
        plan = plan_erasure(shop_map, systems, location)
        assert plan.blocked == []
        assert {(s.table, s.action, s.row_count) for s in plan.steps} == {
            ("address", ErasureAction.DELETE, 1),
            ("review", ErasureAction.DELETE, 1),
            ("newsletter_signup", ErasureAction.DELETE, 1),
            ("customer", ErasureAction.ANONYMIZE, 1),
            ("orders", ErasureAction.RETAIN, 2),
            ("order_item", ErasureAction.RETAIN, 3),
        }
        [outcome] = execute_erasure(shop_map, systems, location, secret_key=SECRET, now=NOW)
        assert outcome.status == "done", outcome.error
        assert verify_erased(shop_map, systems, "email", ALICE_EMAIL) == []
    after = snapshot(engine_url)
    gone = {"address": {(1,)}, "review": {(1,)}, "newsletter_signup": {(2,)}}
    for table, rows in before.items():
        assert set(after[table]) == set(rows) - gone.get(table, set()), table
        changed = {key for key in after[table] if after[table][key] != rows[key]}
        assert changed == ({(1,)} if table == "customer" else set()), table
    row = after["customer"][(1,)]
    assert row[1].endswith("@erased.invalid") and row[3:5] == ("Anonyme", "Anonyme")
    assert row[6] == date(1990, 1, 1)


def shop_newsletter_anonymised(strategies: dict[str, Any]) -> dict[str, Any]:
    """The web shop's map as a document, its newsletter category anonymised column by column."""
    raw: dict[str, Any] = yaml.safe_load(
        (ROOT / "tests" / "webshop" / "webshop_map.yaml").read_text(encoding="utf-8")
    )
    category = raw["categories"]["newsletter"]
    category["erasure"] = {"action": "anonymize"}
    for f in category["fields"]:
        f["anonymize"] = strategies[f["column"]]
    return raw


@pytest.mark.databases("sqlite", "postgresql")
def test_every_strategy_on_the_web_shop(shop_map: DataMap, engine_url: str) -> None:
    """keyed_hash, truncate and year_only, a rerun that does not hash a hash again, and the
    map's restriction applied to retained rows (here, oddly, a currency code: any mapped column)."""
    raw = shop_newsletter_anonymised(
        {
            "newsletter_signup.email": "unique_placeholder",
            "newsletter_signup.consent_text": {"strategy": "truncate", "length": 4},
            "newsletter_signup.signed_up_at": "year_only",
            "newsletter_signup.ip_address": "keyed_hash",
            "newsletter_signup.unsubscribed_at": "keep",
        }
    )
    raw["changes"] = {
        "restriction": {
            "description": {"fr": "Commandes mises à l'écart", "en": "Orders set aside"},
            "set": [{"system": "shop", "column": "orders.currency", "value": "XXX"}],
        }
    }
    variant = DataMap.model_validate(raw)
    seed_webshop(engine_url)
    everything = snapshot(engine_url)
    before = everything["newsletter_signup"][(2,)]
    with Systems(variant, {"SHOP_DB_URL": engine_url}).opened() as systems:
        location = locate_subject(variant, systems, "email", ALICE_EMAIL)
        steps = {s.category: s for s in plan_erasure(variant, systems, location).steps}
        assert steps["newsletter"].new_values["ip_address"] == "keyed hash (pseudonymisation)"
        assert steps["orders"].new_values == {"currency": "XXX"}
        [first] = execute_erasure(variant, systems, location, secret_key=SECRET, now=NOW)
        assert first.status == "done", first.error
        once = snapshot(engine_url)
        [second] = execute_erasure(variant, systems, location, secret_key=SECRET, now=NOW)
        assert second.rows_anonymized == 0
    assert snapshot(engine_url) == once
    row = once["newsletter_signup"][(2,)]
    assert row[1].startswith("erased-") and row[1].endswith("@erased.invalid")
    assert row[2] == before[2][:4]
    assert (row[3].month, row[3].day, row[3].year) == (1, 1, before[3].year)
    assert row[4] is not None and len(row[4]) == 45 and row[4] != before[4]
    assert row[5] == before[5]
    currencies = {key: row[-1] for key, row in once["orders"].items()}
    assert currencies == {(1,): "XXX", (2,): "EUR", (3,): "XXX"}
    assert once["order_item"] == everything["order_item"]


@pytest.mark.databases("sqlite", "postgresql")
def test_values_the_database_computes_are_the_desks_own(shop_map: DataMap, engine_url: str) -> None:
    """Where a table's writes are held (PostgreSQL), its placeholders, truncations and first days
    of the year are written without reading the rows: the database computes them. They are the
    very values `per_row_value` gives of the rows as they were (elsewhere the rows are read and
    it computes them), and a rerun finds the rows done."""
    variant = DataMap.model_validate(
        shop_newsletter_anonymised(
            {
                "newsletter_signup.email": "unique_placeholder",
                "newsletter_signup.consent_text": {"strategy": "truncate", "length": 4},
                "newsletter_signup.signed_up_at": "year_only",  # a timestamp with its zone
                "newsletter_signup.ip_address": "null",
                "newsletter_signup.unsubscribed_at": "keep",
            }
        )
    )
    seed_webshop(engine_url)
    before = snapshot(engine_url)
    sent: list[str] = []

    def watch(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    with Systems(variant, {"SHOP_DB_URL": engine_url}).opened() as systems:
        location = locate_subject(variant, systems, "email", ALICE_EMAIL)
        tables = systems.tables("shop")
        engine = systems.engine("shop")
        event.listen(engine, "before_cursor_execute", watch)
        try:
            [first] = execute_erasure(variant, systems, location, secret_key=SECRET, now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", watch)
        assert first.status == "done", first.error
        once = snapshot(engine_url)
        [second] = execute_erasure(variant, systems, location, secret_key=SECRET, now=NOW)
        assert second.rows_anonymized == 0
        assert snapshot(engine_url) == once
        expected: dict[tuple[str, int], dict[str, Any]] = {}
        for table, key, categories in (
            ("newsletter_signup", 2, ["newsletter"]),
            ("customer", 1, ["account"]),
        ):
            columns = [c.name for c in tables[table].c]
            row = dict(zip(columns, before[table][(key,)], strict=True))
            rules = column_rules(variant, "shop", table, categories, tables[table])
            expected[(table, key)] = {
                r.name: per_row_value(r, row[r.name], (key,), SECRET, "shop", tables[table])
                for r in rules
                if r.rule.strategy
                in (
                    AnonymizeStrategy.UNIQUE_PLACEHOLDER,
                    AnonymizeStrategy.TRUNCATE,
                    AnonymizeStrategy.YEAR_ONLY,
                )
            }
            after = dict(zip(columns, once[table][(key,)], strict=True))
            assert {c: after[c] for c in expected[(table, key)]} == expected[(table, key)]
    assert set(expected[("newsletter_signup", 2)]) == {"email", "consent_text", "signed_up_at"}
    assert set(expected[("customer", 1)]) == {"email", "birth_date"}
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    anonymised_read = [s for s in reads if "consent_text" in s or "birth_date" in s]
    if engine_url.startswith("postgresql"):
        assert anonymised_read == []
    else:
        assert len(anonymised_read) == 2  # each table's rows, read to compute their values


def kept_purchases_of_deleted_invoices() -> DataMap:
    """POINT3's map turned around: invoices deleted, purchases (which refer to them) kept."""
    raw = yaml.safe_load((ROOT / "data_map.yaml").read_text(encoding="utf-8"))
    categories = raw["categories"]
    categories["purchases"]["erasure"] = categories["invoices"]["erasure"]
    categories["invoices"]["erasure"] = {"action": "delete"}
    return DataMap.model_validate(raw)


def test_a_kept_row_referring_to_a_deleted_one_blocks_the_erasure_on_every_engine(
    platform_url: str, engine_kind: str
) -> None:
    """The database's foreign key from kept purchases to deleted invoices refuses the erasure on
    SQLite too (its keys have no name), before anything changes, naming the reference."""
    contradictory = kept_purchases_of_deleted_invoices()
    before = snapshot(platform_url)
    with Systems(contradictory, {"POINT3_PLATFORM_URL": platform_url}).opened() as systems:
        location = locate_subject(contradictory, systems, "email", SAMPLE_LEARNER_EMAIL)
        plan = plan_erasure(contradictory, systems, location)
        assert len(plan.blocked) == 1, plan.blocked
        assert "`course_purchase`(invoice_id)" in plan.blocked[0]
        assert "`invoice`(id)" in plan.blocked[0]
        [outcome] = execute_erasure(contradictory, systems, location, secret_key=SECRET, now=NOW)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("erasure blocked: ")
    assert "`course_purchase`(invoice_id)" in outcome.error and "`invoice`(id)" in outcome.error
    assert snapshot(platform_url) == before
    if engine_kind == "sqlite":
        engine = create_engine(platform_url)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        finally:
            engine.dispose()
