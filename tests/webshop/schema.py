"""A small web shop, the second organisation the data map must describe with no code change.

Its shapes differ from the learner platform's: orders reached in one hop and their items in two,
reviews whose text may name other people, newsletter sign-ups found by email with no account, and
a product catalogue the map leaves out. `seed_webshop` fills a fresh database with a few fixed rows
whose owners the tests know (see `ALICE_ROWS`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    text,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.schema import SchemaItem
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement

metadata = MetaData()

product = Table(
    "product",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku", String(20), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("price_cents", Integer, nullable=False),
)

customer = Table(
    "customer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("phone", String(30), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
)

address = Table(
    "address",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customer.id"), nullable=False, index=True),
    Column("recipient_name", String(200), nullable=False),
    Column("street", String(200), nullable=False),
    Column("postal_code", String(20), nullable=False),
    Column("city", String(100), nullable=False),
    Column("country", String(2), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customer.id"), nullable=False, index=True),
    Column("number", String(30), nullable=False, unique=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("shipping_name", String(200), nullable=False),
    Column("shipping_street", String(200), nullable=False),
    Column("shipping_postal_code", String(20), nullable=False),
    Column("shipping_city", String(100), nullable=False),
    Column("shipping_country", String(2), nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
)

order_item = Table(
    "order_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("product_id", Integer, ForeignKey("product.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
    Column("gift_message", String(500), nullable=True),
)

review = Table(
    "review",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customer.id"), nullable=False, index=True),
    Column("product_id", Integer, ForeignKey("product.id"), nullable=False),
    Column("rating", Integer, nullable=False),
    # Free text: a customer may name someone else ("bought it for my neighbour Bob Martin").
    Column("body", Text, nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
)

newsletter_signup = Table(
    "newsletter_signup",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, index=True),
    Column("consent_text", String(300), nullable=False),
    Column("signed_up_at", DateTime(timezone=True), nullable=False),
    Column("ip_address", String(45), nullable=True),
    Column("unsubscribed_at", DateTime(timezone=True), nullable=True),
)


def _indexes_expressions(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: Connection | None,
    tables: list[Table] | None = None,
    state: Any | None = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    """Tell whether the engine can index an expression: MariaDB cannot."""
    return dialect.name != "mysql"


# Emails are compared case-insensitively (lower(email) = :value), as in the learner platform;
# on MariaDB the case-insensitive collation of the plain column serves instead.
Index("ix_customer_email_lower", func.lower(customer.c.email)).ddl_if(
    callable_=_indexes_expressions
)
Index("ix_newsletter_signup_email_lower", func.lower(newsletter_signup.c.email)).ddl_if(
    callable_=_indexes_expressions
)

ALICE_EMAIL = "alice@shop.example"
BOB_EMAIL = "bob@shop.example"
CAROL_EMAIL = "carol@shop.example"
#: Ways a person may type Alice's address: each must find exactly her rows.
ALICE_EMAIL_VARIANTS = ("ALICE@shop.example ", " Alice@Shop.Example", "alice@SHOP.EXAMPLE")
#: Alice's rows, by table: primary keys. Bob's ids interleave with hers on purpose.
ALICE_ROWS: dict[str, list[int]] = {
    "customer": [1],
    "address": [1],
    "orders": [1, 3],
    "order_item": [1, 3, 4],
    "review": [1],
    "newsletter_signup": [2],
}
BOB_ROWS: dict[str, list[int]] = {
    "customer": [2],
    "address": [2],
    "orders": [2],
    "order_item": [2],
    "review": [2],
    "newsletter_signup": [],
}
CAROL_ROWS: dict[str, list[int]] = {"newsletter_signup": [1]}


def _at(day: str, clock: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=UTC)


def _rows() -> dict[str, list[dict[str, object]]]:
    """Return the seed rows per table, parents first."""
    consent = "J'accepte de recevoir la lettre d'information / I agree to receive the newsletter"
    return {
        "product": [
            {"id": 1, "sku": "MUG-01", "name": "Mug en grès", "price_cents": 1800},
            {"id": 2, "sku": "TEA-02", "name": "Thé vert, 100 g", "price_cents": 950},
            {"id": 3, "sku": "POT-03", "name": "Théière en fonte", "price_cents": 4500},
        ],
        "customer": [
            {
                "id": 1,
                "email": ALICE_EMAIL,
                "password_hash": "pbkdf2:sha256:600000$alice$0a1b2c",
                "first_name": "Alice",
                "last_name": "Durand",
                "phone": "+33 6 12 34 56 78",
                "birth_date": date(1990, 4, 12),
                "created_at": _at("2023-01-15"),
                "last_login_at": _at("2025-03-02", "18:30"),
            },
            {
                "id": 2,
                "email": BOB_EMAIL,
                "password_hash": "pbkdf2:sha256:600000$bob$3d4e5f",
                "first_name": "Bob",
                "last_name": "Martin",
                "phone": None,
                "birth_date": None,
                "created_at": _at("2023-02-01"),
                "last_login_at": None,
            },
        ],
        "address": [
            {
                "id": 1,
                "customer_id": 1,
                "recipient_name": "Alice Durand",
                "street": "12 rue des Lilas",
                "postal_code": "69003",
                "city": "Lyon",
                "country": "FR",
                "updated_at": _at("2023-01-15"),
            },
            {
                "id": 2,
                "customer_id": 2,
                "recipient_name": "Bob Martin",
                "street": "14 rue des Lilas",
                "postal_code": "69003",
                "city": "Lyon",
                "country": "FR",
                "updated_at": _at("2023-02-01"),
            },
        ],
        "orders": [
            _order(1, 1, "WS-2024-0001", _at("2024-03-10"), "Alice Durand", "12", 2750),
            _order(2, 2, "WS-2024-0002", _at("2024-03-11"), "Bob Martin", "14", 4500),
            _order(3, 1, "WS-2024-0003", _at("2024-11-28"), "Alice Durand", "12", 3600),
        ],
        "order_item": [
            _item(1, 1, 1, 1, 1800, None),
            _item(2, 2, 3, 1, 4500, None),
            _item(3, 1, 2, 1, 950, "Joyeux anniversaire Bob !"),
            _item(4, 3, 1, 2, 1800, None),
        ],
        "review": [
            {
                "id": 1,
                "customer_id": 1,
                "product_id": 1,
                "rating": 5,
                "body": "Très beau mug, j'en ai offert un à mon voisin Bob Martin.",
                "posted_at": _at("2024-03-20"),
            },
            {
                "id": 2,
                "customer_id": 2,
                "product_id": 3,
                "rating": 4,
                "body": "Solid teapot, arrived quickly.",
                "posted_at": _at("2024-03-25"),
            },
        ],
        "newsletter_signup": [
            {
                "id": 1,
                "email": CAROL_EMAIL,
                "consent_text": consent,
                "signed_up_at": _at("2024-05-05"),
                "ip_address": "203.0.113.7",
                "unsubscribed_at": None,
            },
            {
                "id": 2,
                # Typed differently from her account's address: found all the same.
                "email": "Alice@Shop.Example",
                "consent_text": consent,
                "signed_up_at": _at("2023-01-15", "10:05"),
                "ip_address": "198.51.100.23",
                "unsubscribed_at": None,
            },
        ],
    }


def _order(
    order_id: int,
    customer_id: int,
    number: str,
    placed_at: datetime,
    name: str,
    house: str,
    total_cents: int,
) -> dict[str, object]:
    return {
        "id": order_id,
        "customer_id": customer_id,
        "number": number,
        "placed_at": placed_at,
        "shipping_name": name,
        "shipping_street": f"{house} rue des Lilas",
        "shipping_postal_code": "69003",
        "shipping_city": "Lyon",
        "shipping_country": "FR",
        "total_cents": total_cents,
        "currency": "EUR",
    }


def _item(
    item_id: int,
    order_id: int,
    product_id: int,
    quantity: int,
    unit_price_cents: int,
    gift_message: str | None,
) -> dict[str, object]:
    return {
        "id": item_id,
        "order_id": order_id,
        "product_id": product_id,
        "quantity": quantity,
        "unit_price_cents": unit_price_cents,
        "gift_message": gift_message,
    }


def seed_webshop(url: str) -> None:
    """Create the shop's tables in the empty database at `url` and insert the fixed rows."""
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            for table_name, rows in _rows().items():
                connection.execute(metadata.tables[table_name].insert(), rows)
            if connection.dialect.name == "postgresql":
                # Ids were given explicitly: move the sequences past them for later inserts.
                for table in metadata.sorted_tables:
                    connection.execute(
                        text(
                            "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        ),
                        {"table": table.name},
                    )
    finally:
        engine.dispose()
