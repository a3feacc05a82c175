"""The web shop's map is a valid data map that matches its schema, and its seed loads everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.engine import Connection

from inventory.model import DataMap, Text
from tests.webshop.schema import (
    ALICE_EMAIL,
    ALICE_EMAIL_VARIANTS,
    ALICE_ROWS,
    BOB_EMAIL,
    BOB_ROWS,
    CAROL_EMAIL,
    CAROL_ROWS,
    metadata,
    seed_webshop,
)

MAP_PATH = Path(__file__).with_name("webshop_map.yaml")


@pytest.fixture(scope="module")
def data_map() -> DataMap:
    return DataMap.model_validate(yaml.safe_load(MAP_PATH.read_text(encoding="utf-8")))


def _texts(node: object, path: str = "") -> dict[str, Text]:
    """Return every translated text in a loaded map, by its path (`recipients.carrier.name`)."""
    if isinstance(node, Text):
        return {path: node}
    if isinstance(node, BaseModel):
        items = [(name, getattr(node, name)) for name in type(node).model_fields]
    elif isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list | tuple):
        items = [(str(index), value) for index, value in enumerate(node)]
    else:
        return {}
    return {k: t for key, value in items for k, t in _texts(value, f"{path}.{key}").items()}


def test_the_map_validates(data_map: DataMap) -> None:
    assert list(data_map.systems) == ["shop"]
    assert data_map.systems["shop"].url.env == "SHOP_DB_URL"
    assert set(data_map.categories) == {"account", "addresses", "orders", "reviews", "newsletter"}


def test_every_text_is_translated(data_map: DataMap) -> None:
    """Only proper names (the recipients' names) read the same in French and in English."""
    texts = _texts(data_map)
    assert len(texts) > 50
    untranslated = [path for path, t in texts.items() if t.fr == t.en]
    assert untranslated == [f".recipients.{key}.name" for key in data_map.recipients]


def test_the_map_names_only_columns_of_the_schema(data_map: DataMap) -> None:
    shop = data_map.systems["shop"]
    schema = metadata.tables

    def exists(ref: str) -> bool:
        table, column = ref.split(".", 1)
        return table in shop.tables and column in schema[table].c

    assert "product" in schema and "product" not in shop.tables
    for name, table in shop.tables.items():
        assert table.primary_key == [c.name for c in schema[name].primary_key]
        for link in table.links:
            assert link.column in schema[name].c and exists(link.to), (name, link)
    for category in data_map.categories.values():
        assert all(exists(f.column) for f in category.fields), category.title.en
        assert exists(category.retention.from_)
        assert set(category.recipients) <= set(data_map.recipients)
    for location in data_map.identities["email"].locations["shop"]:
        assert exists(location.column)


def test_every_mapped_table_is_reached_from_the_email_without_a_cycle(data_map: DataMap) -> None:
    shop = data_map.systems["shop"]
    found = {loc.column.split(".")[0] for loc in data_map.identities["email"].locations["shop"]}
    assert found == {"customer", "newsletter_signup"}
    hops = {name: 0 for name in found}
    while len(hops) < len(shop.tables):
        reached = {
            name: hops[link.target_table] + 1
            for name, table in shop.tables.items()
            if name not in hops
            for link in table.links
            if link.target_table in hops
        }
        assert reached, f"unreachable or cyclic: {set(shop.tables) - set(hops)}"
        hops.update(reached)
    assert hops["order_item"] == 2


def _rows_of(connection: Connection, data_map: DataMap, email: str) -> dict[str, list[int]]:
    """Follow the map from an email to the ids of every row it reaches, table by table."""
    shop = data_map.systems["shop"]
    tables = metadata.tables
    ids: dict[str, set[object]] = {}
    for location in data_map.identities["email"].locations["shop"]:
        table_name, column = location.column.split(".")
        table = tables[table_name]
        query = select(table.c.id).where(func.lower(table.c[column]) == email.strip().lower())
        ids.setdefault(table_name, set()).update(connection.execute(query).scalars())
    pending = [name for name in shop.tables if name not in ids]
    while pending:
        name = pending.pop(0)
        links = shop.tables[name].links
        if any(link.target_table not in ids for link in links):
            pending.append(name)
            continue
        table = tables[name]
        for link in links:
            target = tables[link.target_table]
            owners = select(target.c[link.target_column]).where(
                target.c.id.in_(ids[link.target_table])
            )
            query = select(table.c.id).where(table.c[link.column].in_(owners))
            ids.setdefault(name, set()).update(connection.execute(query).scalars())
    return {name: sorted(int(str(i)) for i in found) for name, found in ids.items() if found}


def test_the_seed_loads_and_each_person_reaches_their_own_rows(
    data_map: DataMap, engine_url: str
) -> None:
    seed_webshop(engine_url)
    engine = create_engine(engine_url)
    assert set(inspect(engine).get_table_names()) == set(metadata.tables)
    with engine.connect() as connection:
        for variant in (ALICE_EMAIL, *ALICE_EMAIL_VARIANTS):
            assert _rows_of(connection, data_map, variant) == ALICE_ROWS, variant
        assert _rows_of(connection, data_map, BOB_EMAIL) == {k: v for k, v in BOB_ROWS.items() if v}
        assert _rows_of(connection, data_map, CAROL_EMAIL) == CAROL_ROWS
        assert _rows_of(connection, data_map, "nobody@shop.example") == {}
        product = metadata.tables["product"]
        assert connection.execute(select(func.count()).select_from(product)).scalar_one() == 3


def test_rows_added_after_the_seed_get_new_ids(engine_url: str) -> None:
    seed_webshop(engine_url)
    engine = create_engine(engine_url)
    customer = metadata.tables["customer"]
    with engine.begin() as connection:
        result = connection.execute(
            customer.insert().values(
                email="dan@shop.example",
                first_name="Dan",
                last_name="Roux",
                created_at=connection.execute(select(func.now())).scalar_one(),
            )
        )
        assert result.inserted_primary_key is not None
        assert result.inserted_primary_key[0] == 3
