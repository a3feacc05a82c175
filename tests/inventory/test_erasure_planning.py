"""The erasure's planning on a small club database (SQLite): order, actions, values, sharing.

A purpose-built schema keeps each rule visible: children are changed before their parents
whatever order the map lists them in; each table gets one action (retain over anonymise over
delete); each anonymisation strategy writes the value it promises, and refuses a column that
cannot hold it; a row another person still refers to is kept as shared.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)

from inventory.anonymisation import ErasurePlanError
from inventory.erasure import (
    SHARED_REASON,
    SHARED_UNTIL,
    ErasurePlan,
    PlannedStep,
    execute_erasure,
    plan_erasure,
)
from inventory.locator import locate_subject
from inventory.model import DataMap, ErasureAction, LocalText
from inventory.phrases import catalogue_text
from inventory.systems import Systems

SECRET = b"planning-secret"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ALICE = "alice@club.example"
MINIMAL = yaml.safe_load((Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8"))

LAW = {"fr": "Code de commerce", "en": "Commercial Code"}
TEN_YEARS = {"fr": "Dix ans", "en": "Ten years"}


def schema() -> MetaData:
    metadata = MetaData()
    Table(
        "member",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(60), nullable=False, unique=True),
        Column("nickname", String(24), nullable=False, unique=True),
        Column("name", String(40), nullable=True),
        Column("city", String(40), nullable=False),
        Column("born", Date, nullable=True),
        Column("joined_at", DateTime, nullable=True),
        Column("phone", String(64), nullable=True),
        Column("bio", Text, nullable=True),
        Column("newsletter", Boolean, nullable=False),
        Column("visits", Integer, nullable=False),
        Column("motto", String(8), nullable=True),
    )
    Table(
        "booking",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", Integer, ForeignKey("member.id"), nullable=False),
        Column("starts_at", DateTime, nullable=False),
    )
    Table(
        "booking_note",
        metadata,
        Column("booking_id", Integer, ForeignKey("booking.id"), primary_key=True),
        Column("line", Integer, primary_key=True),
        Column("author_id", Integer, ForeignKey("member.id"), nullable=True),
        Column("text", String(200), nullable=False),
    )
    Table(
        "invoice",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", Integer, ForeignKey("member.id"), nullable=False),
        Column("booking_id", Integer, nullable=True),
        Column("amount", Integer, nullable=False),
        Column("restricted", Boolean, nullable=False),
        Column("restricted_at", DateTime, nullable=True),
    )
    return metadata


def member(id_: int, email: str, nickname: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id_,
        "email": email,
        "nickname": nickname,
        "name": "Alice Martin",
        "city": "Lyon",
        "born": date(1990, 4, 12),
        "joined_at": datetime(2021, 6, 3, 14, 30, 5),
        "phone": "+33 6 12 34 56 78",
        "bio": "Plays on Tuesdays",
        "newsletter": True,
        "visits": 12,
        "motto": "Go!",
    }
    row.update(values)
    return row


def seed(url: str, metadata: MetaData | None = None) -> None:
    """Alice (two accounts, one email in two cases) and Bob, who takes part in her booking 1."""
    metadata = metadata or schema()
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(metadata.tables["member"]),
                [
                    member(1, ALICE, "alice"),
                    member(
                        2,
                        "ALICE@club.example",
                        "alice2",
                        name=None,
                        born=None,
                        joined_at=None,
                        phone=None,
                        bio=None,
                    ),
                    member(3, "bob@club.example", "bob", name="Bob"),
                ],
            )
            conn.execute(
                insert(metadata.tables["booking"]),
                [
                    {"id": 1, "member_id": 1, "starts_at": datetime(2026, 1, 5, 18)},
                    {"id": 2, "member_id": 1, "starts_at": datetime(2026, 1, 12, 18)},
                    {"id": 3, "member_id": 3, "starts_at": datetime(2026, 1, 6, 18)},
                ],
            )
            conn.execute(
                insert(metadata.tables["booking_note"]),
                [
                    {"booking_id": 1, "line": 1, "author_id": 1, "text": "Court 2 please"},
                    {"booking_id": 1, "line": 2, "author_id": None, "text": "Staff: done"},
                    {"booking_id": 1, "line": 3, "author_id": 3, "text": "Bob joins"},
                    {"booking_id": 2, "line": 1, "author_id": None, "text": "Staff: paid"},
                    {"booking_id": 2, "line": 2, "author_id": 1, "text": "Thanks"},
                    {"booking_id": 3, "line": 1, "author_id": 3, "text": "Bob alone"},
                ],
            )
            conn.execute(
                insert(metadata.tables["invoice"]),
                [
                    {
                        "id": 1,
                        "member_id": 1,
                        "booking_id": 1,
                        "amount": 1500,
                        "restricted": False,
                        "restricted_at": None,
                    },
                    {
                        "id": 2,
                        "member_id": 3,
                        "booking_id": 3,
                        "amount": 900,
                        "restricted": False,
                        "restricted_at": None,
                    },
                ],
            )
    finally:
        engine.dispose()


def field(column: str, anonymize: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"column": column, "label": {"fr": column, "en": column}}
    if anonymize is not None:
        spec["anonymize"] = anonymize
    return spec


def category(
    fields: list[dict[str, Any]], erasure: dict[str, Any], retention_from: str
) -> dict[str, Any]:
    return {
        "title": {"fr": "Catégorie", "en": "Category"},
        "description": {"fr": "Catégorie", "en": "Category"},
        "system": "club",
        "fields": fields,
        "purposes": [{"fr": "Gérer", "en": "Manage"}],
        "legal_basis": "contract",
        "retention": {"period": "P1Y", "from": retention_from, "source": LAW},
        "source": {"fr": "Vous", "en": "You"},
        "provenance": "provided",
        "erasure": erasure,
    }


CONTACT_STRATEGIES: dict[str, Any] = {
    "member.email": "unique_placeholder",
    "member.nickname": "unique_placeholder",
    "member.name": "null",
    "member.city": {"strategy": "fixed", "value": "Anonyme"},
    "member.born": "year_only",
    "member.joined_at": "year_only",
    "member.phone": "keyed_hash",
    "member.bio": "keyed_hash",
    "member.newsletter": {"strategy": "fixed", "value": "false"},
    "member.visits": {"strategy": "fixed", "value": 0},
    "member.motto": {"strategy": "truncate", "length": 2},
}


def club_document(table_order: list[str] | None = None) -> dict[str, Any]:
    tables: dict[str, Any] = {
        "member": {"primary_key": "id"},
        "booking": {
            "primary_key": "id",
            "links": [{"column": "member_id", "to": "member.id"}],
        },
        "booking_note": {
            "primary_key": ["booking_id", "line"],
            "links": [{"column": "booking_id", "to": "booking.id"}],
            "owner": {"column": "author_id", "to": "member.id"},
        },
        "invoice": {
            "primary_key": "id",
            "links": [{"column": "member_id", "to": "member.id"}],
        },
    }
    order = table_order or list(tables)
    return {
        "version": 1,
        "organisation": MINIMAL["organisation"],
        "systems": {
            "club": {
                "title": "Club",
                "url": {"env": "CLUB_DB_URL", "default": "sqlite:///club.sqlite3"},
                "tables": {name: tables[name] for name in order},
            }
        },
        "identities": {
            "email": {
                "kind": "email",
                "label": {"fr": "Courriel", "en": "Email"},
                "locations": {"club": [{"column": "member.email"}]},
            }
        },
        "categories": {
            "contact": category(
                [field(c, s) for c, s in CONTACT_STRATEGIES.items()],
                {"action": "anonymize"},
                "member.joined_at",
            ),
            "bookings": category(
                [field("booking.starts_at"), field("booking_note.text")],
                {"action": "delete"},
                "booking.starts_at",
            ),
            "invoices": category(
                [field("invoice.amount")],
                {"action": "retain", "legal_reason": LAW, "until": TEN_YEARS},
                "invoice.amount",
            ),
        },
        "activities": {
            "membership": {
                "name": "Membership",
                "purposes": ["Run the club"],
                "data_subjects": ["Members"],
                "categories": ["contact", "bookings", "invoices"],
            }
        },
        "changes": {
            "restriction": {
                "description": {"fr": "Mis à l'écart", "en": "Set aside"},
                "set": [
                    {"system": "club", "column": "invoice.amount", "value": 0},
                    {"system": "club", "column": "invoice.restricted", "value": True},
                    {"system": "club", "column": "invoice.restricted_at", "now": True},
                ],
            }
        },
    }


def club_map(document: dict[str, Any] | None = None) -> DataMap:
    return DataMap.model_validate(document or club_document())


@pytest.fixture
def club_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url)
    return url


def plan_for(data_map: DataMap, url: str, email: str = ALICE) -> ErasurePlan:
    with Systems(data_map, {"CLUB_DB_URL": url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", email)
        return plan_erasure(data_map, systems, location)


def erase(data_map: DataMap, url: str, email: str = ALICE) -> None:
    with Systems(data_map, {"CLUB_DB_URL": url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", email)
        [outcome] = execute_erasure(data_map, systems, location, secret_key=SECRET, now=NOW)
    assert outcome.status == "done", outcome.error


def rows(url: str, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    engine = create_engine(url)
    try:
        found = schema().tables[table]
        pk = [c.name for c in found.primary_key.columns]
        with engine.connect() as conn:
            return {
                tuple(row._mapping[c] for c in pk): dict(row._mapping)
                for row in conn.execute(select(found))
            }
    finally:
        engine.dispose()


def summary(plan: ErasurePlan) -> list[tuple[str, str, ErasureAction, int]]:
    return [(s.table, s.category, s.action, s.row_count) for s in plan.steps]


# --- which action, for how many rows, in which order ------------------------------------------


EXPECTED_STEPS = {
    ("booking_note", "bookings", ErasureAction.DELETE, 3),  # hers and the staff's on booking 2
    ("booking_note", "bookings", ErasureAction.RETAIN, 1),  # the staff's note on shared booking 1
    ("booking", "bookings", ErasureAction.DELETE, 1),  # booking 2
    ("booking", "bookings", ErasureAction.RETAIN, 1),  # booking 1: Bob wrote in it
    ("invoice", "invoices", ErasureAction.RETAIN, 1),
    ("member", "contact", ErasureAction.ANONYMIZE, 2),  # both of her accounts
}


def test_the_plan_says_each_tables_action_and_row_count(club_url: str) -> None:
    plan = plan_for(club_map(), club_url)
    assert plan.blocked == []
    assert set(summary(plan)) == EXPECTED_STEPS
    assert len(plan.steps) == len(EXPECTED_STEPS)
    assert list(plan.by_system()) == ["club"]


def assert_children_first(steps: list[PlannedStep]) -> None:
    order = {s.table: s.order for s in steps}
    for child, parent in [
        ("booking_note", "booking"),
        ("booking", "member"),
        ("invoice", "member"),
        ("booking_note", "member"),
    ]:
        assert order[child] < order[parent], (child, parent, order)
    assert sorted(set(order.values())) == list(range(1, len(order) + 1))
    assert [s.order for s in steps] == sorted(s.order for s in steps)


@pytest.mark.parametrize(
    "table_order",
    [
        ["member", "booking", "booking_note", "invoice"],
        ["booking_note", "invoice", "booking", "member"],
        ["invoice", "member", "booking_note", "booking"],
    ],
)
def test_children_are_changed_before_their_parents(club_url: str, table_order: list[str]) -> None:
    plan = plan_for(club_map(club_document(table_order)), club_url)
    assert set(summary(plan)) == EXPECTED_STEPS
    assert_children_first(plan.steps)


def test_a_foreign_key_the_map_does_not_declare_orders_too(tmp_path: Path) -> None:
    """`invoice.booking_id` is a live foreign key the map does not list as a link: the invoice
    is still changed before the booking it refers to."""
    metadata = schema()
    invoice = metadata.tables["invoice"]
    invoice.append_constraint(
        ForeignKeyConstraint(["booking_id"], ["booking.id"], name="fk_invoice_booking")
    )
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url, metadata)
    document = club_document(["booking", "member", "booking_note", "invoice"])
    plan = plan_for(club_map(document), url)
    order = {s.table: s.order for s in plan.steps}
    assert order["invoice"] < order["booking"]


def test_a_kept_row_that_refers_to_a_deleted_one_blocks_the_erasure(tmp_path: Path) -> None:
    """Her retained invoice has a foreign key to her booking 2, which the erasure deletes."""
    metadata = schema()
    metadata.tables["invoice"].append_constraint(
        ForeignKeyConstraint(["booking_id"], ["booking.id"], name="fk_invoice_booking")
    )
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url, metadata)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            metadata.tables["invoice"]
            .update()
            .values(booking_id=2)
            .where(metadata.tables["invoice"].c.id == 1)
        )
    engine.dispose()
    plan = plan_for(club_map(), url)
    assert plan.blocked == [
        "rows of `invoice` kept for the subject refer to rows of `booking` that the erasure "
        "deletes (foreign key `fk_invoice_booking` from `invoice`(booking_id) to "
        "`booking`(id)): the map contradicts itself"
    ]


def test_a_table_of_no_category_is_left_alone(club_url: str) -> None:
    document = club_document()
    document["categories"]["invoices"]["fields"] = [field("booking.starts_at")]
    del document["categories"]["bookings"]
    document["categories"]["invoices"]["retention"]["from"] = "booking.starts_at"
    plan = plan_for(club_map(document), club_url)
    assert "invoice" not in {s.table for s in plan.steps}
    assert "booking_note" not in {s.table for s in plan.steps}


def test_retention_wins_over_anonymisation_on_one_table(club_url: str) -> None:
    """A row another category must keep is kept whole: its anonymised columns are not changed,
    and each category of the table reports the row as retained."""
    document = club_document()
    document["categories"]["invoices"]["fields"].append(field("member.born"))
    document["categories"]["contact"]["fields"] = [
        f for f in document["categories"]["contact"]["fields"] if f["column"] != "member.born"
    ]
    plan = plan_for(club_map(document), club_url)
    member_steps = [(s.category, s.action, s.row_count) for s in plan.steps if s.table == "member"]
    assert member_steps == [
        ("contact", ErasureAction.RETAIN, 2),
        ("invoices", ErasureAction.RETAIN, 2),
    ]


def test_nobody_found_plans_nothing(club_url: str) -> None:
    plan = plan_for(club_map(), club_url, email="nobody@club.example")
    assert plan.steps == [] and plan.blocked == []


# --- what each step says ----------------------------------------------------------------------


def test_each_strategy_is_described_in_the_plan(club_url: str) -> None:
    [anonymise] = [s for s in plan_for(club_map(), club_url).steps if s.table == "member"]
    assert anonymise.new_values == {
        "email": "unique placeholder",
        "nickname": "unique placeholder",
        "name": "NULL",
        "city": "fixed: Anonyme",
        "born": "year only",
        "joined_at": "year only",
        "phone": "keyed hash (pseudonymisation)",
        "bio": "keyed hash (pseudonymisation)",
        "newsletter": "fixed: false",
        "visits": "fixed: 0",
        "motto": "first 2 characters",
    }
    assert anonymise.legal_reason is None and anonymise.until is None


def test_a_kept_column_is_described_and_a_boolean_fixed_value_in_words(club_url: str) -> None:
    document = club_document()
    strategies = {"member.city": "keep", "member.newsletter": {"strategy": "fixed", "value": True}}
    for f in document["categories"]["contact"]["fields"]:
        f["anonymize"] = strategies.get(f["column"], f["anonymize"])
    [anonymise] = [s for s in plan_for(club_map(document), club_url).steps if s.table == "member"]
    assert anonymise.new_values["city"] == "kept as is"
    assert anonymise.new_values["newsletter"] == "fixed: true"


def test_retained_steps_give_the_reason_the_restriction_and_until_when(club_url: str) -> None:
    steps = plan_for(club_map(), club_url).steps
    [invoice] = [s for s in steps if s.table == "invoice"]
    assert invoice.legal_reason == LocalText.model_validate(LAW)
    assert invoice.until == LocalText.model_validate(TEN_YEARS)
    assert invoice.new_values == {
        "amount": "0",
        "restricted": "true",
        "restricted_at": "time of the erasure",
    }
    [shared] = [s for s in steps if s.table == "booking" and s.action is ErasureAction.RETAIN]
    assert (shared.legal_reason, shared.until, shared.new_values) == (
        catalogue_text(SHARED_REASON),
        catalogue_text(SHARED_UNTIL),
        {},
    )
    # Its French comes from the catalogue, not from Python.
    assert shared.legal_reason is not None and shared.until is not None
    assert shared.legal_reason.en == SHARED_REASON
    assert shared.legal_reason.fr.startswith("Partagé avec d'autres personnes")
    assert shared.until.fr == "Tant que d'autres personnes y prennent part"
    [deleted] = [s for s in steps if s.table == "booking" and s.action is ErasureAction.DELETE]
    assert (deleted.legal_reason, deleted.until, deleted.new_values) == (None, None, {})


def test_a_restriction_in_another_system_or_table_is_not_applied_here(club_url: str) -> None:
    document = club_document()
    document["changes"]["restriction"]["set"] = [
        {"system": "elsewhere", "column": "invoice.restricted", "value": True},
        {"system": "club", "column": "booking.restricted", "value": True},
        {"system": "club", "column": "invoice.not_a_column", "value": True},
    ]
    [invoice] = [s for s in plan_for(club_map(document), club_url).steps if s.table == "invoice"]
    assert invoice.new_values == {}


def test_without_a_restriction_retained_rows_are_only_kept(club_url: str) -> None:
    document = club_document()
    del document["changes"]
    data_map = club_map(document)
    [invoice] = [s for s in plan_for(data_map, club_url).steps if s.table == "invoice"]
    assert invoice.new_values == {}
    before = rows(club_url, "invoice")
    erase(data_map, club_url)
    assert rows(club_url, "invoice") == before


# --- the values written, and what the schema cannot hold --------------------------------------


def digest(value: str) -> str:
    return hmac.new(SECRET, value.encode(), hashlib.sha256).hexdigest()


def test_each_strategy_writes_the_value_it_promises(club_url: str) -> None:
    before = rows(club_url, "member")
    erase(club_map(), club_url)
    after = rows(club_url, "member")
    assert after[(3,)] == before[(3,)]  # Bob
    alice, alice2 = after[(1,)], after[(2,)]
    for row in (alice, alice2):
        assert row["email"].startswith("erased-") and row["email"].endswith("@erased.invalid")
        # 60 characters hold the prefix, the domain and the 32 hex characters used at most.
        assert len(row["email"]) == len("erased-") + 32 + len("@erased.invalid")
        # 24 characters leave room for 17 hex characters after the prefix, and no domain.
        assert row["nickname"].startswith("erased-") and len(row["nickname"]) == 24
        assert "@" not in row["nickname"]
        assert row["name"] is None
        assert row["city"] == "Anonyme"
        assert row["newsletter"] is False
        assert row["visits"] == 0
    assert alice["email"] != alice2["email"] and alice["nickname"] != alice2["nickname"]
    expected = digest(f"club.member.email:{(1,)!r}")[:32]
    assert alice["email"] == f"erased-{expected}@erased.invalid"
    assert alice["nickname"] == "erased-" + digest(f"club.member.nickname:{(1,)!r}")[:17]
    assert alice["born"] == date(1990, 1, 1)
    assert alice["joined_at"] == datetime(2021, 1, 1)
    assert alice["phone"] == digest("+33 6 12 34 56 78")  # 64 characters fit a String(64)
    assert alice["bio"] == digest("Plays on Tuesdays")
    assert alice["motto"] == "Go"
    # NULL stays NULL whatever the strategy.
    assert (alice2["born"], alice2["joined_at"], alice2["phone"], alice2["bio"]) == (None,) * 4


def test_a_keyed_hash_is_cut_to_the_column(tmp_path: Path) -> None:
    metadata = schema()
    metadata.tables["member"].c.phone.type = String(20)
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url, metadata)
    erase(club_map(), url)
    assert rows(url, "member")[(1,)]["phone"] == digest("+33 6 12 34 56 78")[:20]


def test_truncating_null_stays_null(club_url: str) -> None:
    engine = create_engine(club_url)
    with engine.begin() as conn:
        conn.execute(schema().tables["member"].update().values(motto=None))
    engine.dispose()
    erase(club_map(), club_url)
    assert rows(club_url, "member")[(1,)]["motto"] is None


def refused(club_url: str, column: str, strategy: Any) -> str:
    document = club_document()
    for f in document["categories"]["contact"]["fields"]:
        if f["column"] == f"member.{column}":
            f["anonymize"] = strategy
    with pytest.raises(ErasurePlanError) as caught:
        plan_for(club_map(document), club_url)
    return str(caught.value)


@pytest.mark.parametrize(
    ("column", "strategy", "message"),
    [
        (
            "city",
            "null",
            "column `member.city` of `club` is NOT NULL, but the map anonymises it "
            "with `null`: choose `fixed` or `unique_placeholder`",
        ),
        (
            "email",
            {"strategy": "fixed", "value": "x"},
            "column `member.email` of `club` is "
            "UNIQUE: `fixed` would give several people the same value; choose `unique_placeholder` "
            "or `keyed_hash`",
        ),
        (
            "nickname",
            {"strategy": "truncate", "length": 3},
            "column `member.nickname` of `club` "
            "is UNIQUE: `truncate` would give several people the same value; choose "
            "`unique_placeholder` or `keyed_hash`",
        ),
        (
            "email",
            "year_only",
            "column `member.email` of `club` is UNIQUE: `year_only` would make values collide",
        ),
        (
            "city",
            "year_only",
            "column `member.city` of `club` holds no date: `year_only` applies to dates",
        ),
        (
            "visits",
            "keyed_hash",
            "column `member.visits` of `club` holds no text: `keyed_hash` writes text",
        ),
        (
            "visits",
            {"strategy": "truncate", "length": 1},
            "column `member.visits` of `club` holds no text: `truncate` writes text",
        ),
        (
            "born",
            "unique_placeholder",
            "column `member.born` of `club` holds no text: `unique_placeholder` writes text",
        ),
        (
            "visits",
            {"strategy": "fixed", "value": "many"},
            "column `member.visits` of `club`: "
            "the fixed value does not fit (invalid literal for int() with base 10: 'many')",
        ),
        (
            "newsletter",
            {"strategy": "fixed", "value": "yes"},
            "column `member.newsletter` of "
            "`club`: the fixed value does not fit ('yes' is not true or false)",
        ),
        (
            "born",
            {"strategy": "fixed", "value": "soon"},
            "column `member.born` of `club`: the "
            "fixed value does not fit (Invalid isoformat string: 'soon')",
        ),
        (
            "motto",
            {"strategy": "fixed", "value": "123456789"},
            "column `member.motto` of `club`: the fixed value is longer than the column",
        ),
        (
            "motto",
            "unique_placeholder",
            "column `member.motto` of `club` is too short to hold a unique placeholder",
        ),
    ],
)
def test_a_strategy_the_column_cannot_hold_is_refused(
    club_url: str, column: str, strategy: Any, message: str
) -> None:
    assert refused(club_url, column, strategy) == message


def test_a_fixed_value_as_long_as_the_column_fits(club_url: str) -> None:
    document = club_document()
    for f in document["categories"]["contact"]["fields"]:
        if f["column"] == "member.motto":
            f["anonymize"] = {"strategy": "fixed", "value": "12345678"}
    erase(club_map(document), club_url)
    assert rows(club_url, "member")[(1,)]["motto"] == "12345678"


@pytest.mark.parametrize(("length", "fits"), [(33, False), (34, True)])
def test_an_email_placeholder_needs_twelve_hex_characters(
    tmp_path: Path, length: int, fits: bool
) -> None:
    metadata = schema()
    metadata.tables["member"].c.email.type = String(length)
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url, metadata)
    if fits:
        erase(club_map(), url)
        email = rows(url, "member")[(1,)]["email"]
        assert len(email) == length and email.endswith("@erased.invalid")
    else:
        with pytest.raises(ErasurePlanError, match="too short to hold a unique placeholder"):
            plan_for(club_map(), url)


def test_a_column_missing_from_the_database_is_refused(club_url: str) -> None:
    document = club_document()
    document["categories"]["contact"]["fields"].append(field("member.shoe_size", "null"))
    with pytest.raises(ErasurePlanError) as caught:
        plan_for(club_map(document), club_url)
    assert str(caught.value) == "column `member.shoe_size` is not in the database of `club`"


# --- shared rows ------------------------------------------------------------------------------


def test_a_shared_booking_keeps_what_others_and_the_staff_wrote_in_it(club_url: str) -> None:
    """Bob wrote in her booking 1: it stays, with Bob's note and the staff's; her notes go.
    Her booking 2 goes whole, the staff's note in it included."""
    erase(club_map(), club_url)
    assert set(rows(club_url, "booking")) == {(1,), (3,)}
    assert set(rows(club_url, "booking_note")) == {(1, 2), (1, 3), (3, 1)}
    invoices = rows(club_url, "invoice")
    assert invoices[(1,)]["restricted"] is True and invoices[(1,)]["amount"] == 0
    assert invoices[(1,)]["restricted_at"] == NOW.replace(tzinfo=None)
    assert invoices[(2,)]["restricted"] is False and invoices[(2,)]["amount"] == 900


def test_a_booking_nobody_else_wrote_in_goes_whole(club_url: str) -> None:
    engine = create_engine(club_url)
    notes = schema().tables["booking_note"]
    with engine.begin() as conn:
        conn.execute(notes.delete().where(notes.c.author_id == 3, notes.c.booking_id == 1))
    engine.dispose()
    plan = plan_for(club_map(), club_url)
    assert ("booking", "bookings", ErasureAction.DELETE, 2) in summary(plan)
    assert ("booking_note", "bookings", ErasureAction.DELETE, 4) in summary(plan)
    assert not [s for s in plan.steps if s.table.startswith("booking") and s.action == "retain"]
    erase(club_map(), club_url)
    assert set(rows(club_url, "booking")) == {(3,)}
    assert set(rows(club_url, "booking_note")) == {(3, 1)}


# --- more values: placeholders without a length, fixed values of every type ------------------


def with_strategies(strategies: dict[str, Any]) -> DataMap:
    document = club_document()
    for f in document["categories"]["contact"]["fields"]:
        f["anonymize"] = strategies.get(f["column"], f["anonymize"])
    return club_map(document)


def test_a_placeholder_in_a_column_without_a_length_uses_32_hex_characters(club_url: str) -> None:
    erase(with_strategies({"member.bio": "unique_placeholder"}), club_url)
    bio = rows(club_url, "member")[(1,)]["bio"]
    assert bio == "erased-" + digest(f"club.member.bio:{(1,)!r}")[:32]


def test_fixed_values_take_the_columns_type(club_url: str) -> None:
    data_map = with_strategies(
        {
            "member.newsletter": {"strategy": "fixed", "value": True},
            "member.visits": {"strategy": "fixed", "value": True},
            "member.city": {"strategy": "fixed", "value": False},
            "member.joined_at": {"strategy": "fixed", "value": "2000-01-02T03:04:05"},
            "member.born": {"strategy": "fixed", "value": "2000-01-02"},
            "member.motto": {"strategy": "fixed", "value": 7},
        }
    )
    [anonymise] = [s for s in plan_for(data_map, club_url).steps if s.table == "member"]
    assert anonymise.new_values["city"] == "fixed: false"
    assert anonymise.new_values["joined_at"] == "fixed: 2000-01-02T03:04:05"
    erase(data_map, club_url)
    alice = rows(club_url, "member")[(1,)]
    assert alice["newsletter"] is True
    assert alice["visits"] == 1
    assert alice["city"] == "false"
    assert alice["joined_at"] == datetime(2000, 1, 2, 3, 4, 5)
    assert alice["born"] == date(2000, 1, 2)
    assert alice["motto"] == "7"


def test_a_restriction_may_set_null(club_url: str) -> None:
    document = club_document()
    document["changes"]["restriction"]["set"] = [
        {"system": "club", "column": "invoice.booking_id", "value": None},
    ]
    data_map = club_map(document)
    [invoice] = [s for s in plan_for(data_map, club_url).steps if s.table == "invoice"]
    assert invoice.new_values == {"booking_id": "NULL"}
    erase(data_map, club_url)
    assert rows(club_url, "invoice")[(1,)]["booking_id"] is None


# --- order when the schema's foreign keys disagree with the map -------------------------------


def test_a_circle_of_foreign_keys_falls_back_on_the_maps_links(tmp_path: Path) -> None:
    """`member.last_booking_id` points back at `booking`: the live keys go round in a circle, so
    the order comes from the map's links alone (children first)."""
    metadata = schema()
    metadata.tables["member"].append_column(
        Column("last_booking_id", Integer, ForeignKey("booking.id", use_alter=True))
    )
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url, metadata)
    document = club_document(["member", "invoice", "booking", "booking_note"])
    plan = plan_for(club_map(document), url)
    order = {s.table: s.order for s in plan.steps}
    assert sorted(order, key=order.__getitem__) == ["booking_note", "booking", "invoice", "member"]


def test_a_table_referring_to_itself_is_no_circle(tmp_path: Path) -> None:
    """`member.referrer_id` points at another member: the order still follows every other key,
    here the live one from `invoice` to `booking` that the map's links do not give."""
    metadata = schema()
    metadata.tables["member"].append_column(Column("referrer_id", Integer, ForeignKey("member.id")))
    metadata.tables["invoice"].append_constraint(
        ForeignKeyConstraint(["booking_id"], ["booking.id"], name="fk_invoice_booking")
    )
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    seed(url, metadata)
    document = club_document(["member", "invoice", "booking", "booking_note"])
    plan = plan_for(club_map(document), url)
    order = {s.table: s.order for s in plan.steps}
    assert order["invoice"] < order["booking"] < order["member"]
    assert order["booking_note"] < order["booking"]


@pytest.mark.parametrize(("written", "stored"), [("True", True), ("true", True), ("FALSE", False)])
def test_a_boolean_fixed_value_written_as_text_is_read_whatever_its_case(
    club_url: str, written: str, stored: bool
) -> None:
    erase(with_strategies({"member.newsletter": {"strategy": "fixed", "value": written}}), club_url)
    assert rows(club_url, "member")[(1,)]["newsletter"] is stored
