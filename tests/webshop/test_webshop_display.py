"""The web shop's map shows its amounts and countries too: nothing of POINT3 in the code."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from exports.data_export import write_data_export
from inventory.collection import collect_subject
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.systems import Systems
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import report_request
from tests.webshop.schema import ALICE_EMAIL, seed_webshop

MAP_PATH = Path(__file__).with_name("webshop_map.yaml")


def test_the_shops_orders_export_amounts_and_countries_with_their_labels(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    seed_webshop(url)
    data_map = load_data_map(MAP_PATH)
    with Systems(data_map, {"SHOP_DB_URL": url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", ALICE_EMAIL)
        collection = collect_subject(data_map, systems, location, tmp_path / "collection")
    out = io.BytesIO()
    write_data_export(
        data_map=data_map,
        collection=collection,
        request=report_request(ALICE_EMAIL, "en"),
        translations=translations_for("en"),
        out=out,
    )
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        text = archive.read("orders.csv").decode("utf-8-sig")
    orders = [
        r for r in csv.DictReader(io.StringIO(text)) if r["Total amount (orders.total_cents)"]
    ]
    assert orders
    for order in orders:
        cents = int(order["Total amount (orders.total_cents)"])
        label = order["Total amount (orders.total_cents (label))"]
        assert order["Currency (orders.currency)"] == "EUR"
        assert label == f"€{cents // 100:,}.{cents % 100:02d}"
        country = order["Delivery country (orders.shipping_country (label))"]
        assert country and country != order["Delivery country (orders.shipping_country)"]
