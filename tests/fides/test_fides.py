"""The Fides format: a map skeleton from Fides' own public sample dataset, completed, finds the
right rows of Fides' own sample database; the map's systems go out as Fides datasets and back.

The sample (dataset YAML and PostgreSQL schema with its rows) is Fides', unchanged: see README.md.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine

from dsr.cli import main
from inventory.loader import MapError, load_data_map, parse_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SAMPLE = HERE / "postgres_example_test_dataset.yml"
SAMPLE_SQL = HERE / "postgres_sample.sql"
SYSTEM = "postgres_example_test_dataset"
URL_ENV = "POSTGRES_EXAMPLE_TEST_DATASET_URL"
KEYS_FIDES_DOES_NOT_NAME = {"visit": ["email", "last_visit"], "order_item": ["order_id", "item_no"]}
"""The primary keys the sample dataset leaves out, as its SQL schema declares them."""
ENGLISH = {"DSR_STAFF_LANGUAGE": "en"}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def import_sample(tmp_path: Path, source: Path = SAMPLE) -> dict[str, Any]:
    out = tmp_path / "imported.yaml"
    code, output = run("map", "import-fides", str(source), "--out", str(out), env=ENGLISH)
    assert code == 0, output
    document: dict[str, Any] = yaml.safe_load(out.read_text(encoding="utf-8"))
    return document


def complete(node: Any, keys: dict[str, list[str]], key: str = "") -> Any:
    """Replace every TODO the way a DPO would: keys from the schema, the rest a valid answer."""
    if isinstance(node, dict):
        done = {k: complete(v, keys, str(k)) for k, v in node.items()}
        if str(node.get("primary_key")).startswith("TODO"):  # `key` is the table's name
            done["primary_key"] = keys[key]
        if "retention" in done and "fields" in done:  # the period runs from one of its columns
            done["retention"]["from"] = done["fields"][0]["column"]
        return done
    if isinstance(node, list):
        return [complete(item, keys, key) for item in node]
    if not (isinstance(node, str) and node.startswith("TODO")):
        return node
    answers = {
        "legal_basis": "contract",
        "provenance": "provided",
        "action": "delete",
        "period": "P3Y",
        "default": "sqlite:///unused.sqlite3",
    }
    return answers.get(key, "Complété par le test")


def completed_map(document: dict[str, Any]) -> DataMap:
    return parse_data_map(yaml.safe_dump(complete(document, KEYS_FIDES_DOES_NOT_NAME)))


# --- 1. import -------------------------------------------------------------------------------


def test_import_writes_a_skeleton_that_map_check_guides_to_completion(tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    code, output = run("map", "import-fides", str(SAMPLE), "--out", str(out))
    assert code == 0, output
    assert "valeurs à compléter" in output  # in the staff's language, French by default

    code, output = run("--map", str(out), "map", "check")
    assert code == 1
    assert re.search(  # the map's words in English, what to write in the staff's language
        r"imported\.yaml:\d+:\d+: to complete: `primary_key` in table `visit` of system "
        rf"`{SYSTEM}`: la ou les colonnes qui identifient une ligne de `visit` \(Fides n'en "
        r"nomme aucune\)\.",
        output,
    ), output
    for said in ("`legal_basis` in category `user_contact`", "`period` in category `user_name`"):
        assert said in output
    assert "`label.fr` in category `user_financial`, under `fields.0`" in output
    assert "is not allowed" not in output  # a placeholder is a thing to complete, not an error

    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    done = tmp_path / "done.yaml"
    done.write_text(yaml.safe_dump(complete(document, KEYS_FIDES_DOES_NOT_NAME)), encoding="utf-8")
    code, output = run("--map", str(done), "map", "check")
    assert code == 0, output
    assert "valid" in output


def test_a_bare_todo_in_any_map_is_reported_with_what_the_key_needs() -> None:
    text = (ROOT / "tests" / "inventory" / "minimal_map.yaml").read_text(encoding="utf-8")
    assert text.count("legal_basis: contract") == 1
    with pytest.raises(MapError) as caught:
        parse_data_map(text.replace("legal_basis: contract", "legal_basis: TODO"), filename="m")
    line = text.split("\n").index("    legal_basis: contract") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"m:{line}:18: to complete: `legal_basis` in category `contact`: every category must "
        "name its ground under GDPR Art. 6(1): consent, contract, legal_obligation, "
        "vital_interests, public_task or legitimate_interests."
    ]


def test_the_skeleton_says_what_fides_says(tmp_path: Path) -> None:
    document = import_sample(tmp_path)
    system = document["systems"][SYSTEM]
    assert system["url"]["env"] == URL_ENV
    tables = system["tables"]
    assert tables["customer"] == {"primary_key": ["id"]}
    assert tables["login"]["links"] == [{"column": "customer_id", "to": "customer.id"}]
    assert {"column": "id", "to": "orders.shipping_address_id"} in tables["address"]["links"]
    assert tables["product"]["links"] == [{"column": "id", "to": "order_item.product_id"}]
    assert str(tables["visit"]["primary_key"]).startswith("TODO")
    locations = document["identities"]["email"]["locations"][SYSTEM]
    assert {"column": "service_request.alt_email"} in locations
    assert document["identities"]["email"]["kind"] == "email"

    categories = document["categories"]
    assert set(categories) == {
        "user_contact",
        "user_unique_id",
        "user_name",
        "user_sensor",
        "user_financial",
        "user",
    }
    contact = {f["column"]: f["fides_category"] for f in categories["user_contact"]["fields"]}
    assert contact["customer.email"] == "user.contact.email"
    assert contact["address.zip"] == "user.contact.address.postal_code"
    assert categories["user_contact"]["title"]["en"] == "Contact Data"
    fields = {f["column"] for c in categories.values() for f in c["fields"]}
    assert "product.price" not in fields and "product.price" in system["not_personal"]
    assert "service_request.email" in system["not_personal"]  # system.operations in Fides


def test_system_names_the_system(tmp_path: Path) -> None:
    out = tmp_path / "shop.yaml"
    code, output = run("map", "import-fides", str(SAMPLE), "--system", "cookies", "-o", str(out))
    assert code == 0, output
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert list(document["systems"]) == ["cookies"]
    assert document["systems"]["cookies"]["url"]["env"] == "COOKIES_URL"
    assert {c["system"] for c in document["categories"].values()} == {"cookies"}


def two_datasets(tmp_path: Path) -> Path:
    """The sample and its copy under the key `archive` (references included): two systems."""
    document = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    copy = yaml.safe_load(yaml.safe_dump(document["dataset"][0]))
    copy["fides_key"] = "archive"
    for field in (f for c in copy["collections"] for f in c["fields"]):
        for reference in (field.get("fides_meta") or {}).get("references", []):
            reference["dataset"] = "archive"
    document["dataset"].append(copy)
    path = tmp_path / "two.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_each_dataset_is_a_system(tmp_path: Path) -> None:
    data_map = completed_map(import_sample(tmp_path, two_datasets(tmp_path)))
    assert set(data_map.systems) == {SYSTEM, "archive"}
    assert set(data_map.identities["email"].locations) == {SYSTEM, "archive"}
    names = data_map.categories["user_name"]
    assert {(f.system or names.system, f.column) for f in names.fields} == {
        (system, column)
        for system in (SYSTEM, "archive")
        for column in ("customer.name", "employee.name")
    }


def test_system_cannot_name_two_datasets(tmp_path: Path) -> None:
    out = tmp_path / "map.yaml"
    source = two_datasets(tmp_path)
    code, output = run(
        "map", "import-fides", str(source), "--system", "one", "-o", str(out), env=ENGLISH
    )
    assert code == 2
    assert "--system names the system of a file of one dataset; this one has 2." in output
    assert not out.exists()


BAD_INPUTS = [
    pytest.param(
        "dataset: [\n  - fides_key: x\n", r"bad\.yml:2:3: this is not valid YAML", id="yaml"
    ),
    pytest.param(
        (ROOT / "data_map.yaml").read_text(encoding="utf-8"),
        r"bad\.yml:\d+:1: this is not a Fides dataset file",
        id="a data map",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace(
            "[user.contact.address.city]", "[user.contact.adress.city]"
        ),
        r"bad\.yml:9:31: `user.contact.adress.city` is not a fideslang data category .*"
        r"Did you mean `user.contact.address.city`\?",
        id="unknown category",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace("- name: employee", "- name: customer"),
        r"bad\.yml:\d+:\d+: `customer` is named twice here",
        id="collection twice",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace("- name: house", "- name: city"),
        r"bad\.yml:10:19: `city` is named twice here",
        id="field twice",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace(
            "- name: zip\n", "- name: zip\n            name: postcode\n", 1
        ),
        r"bad\.yml:21:13: `name` is named twice here",
        id="key twice",
    ),
    pytest.param(
        "dataset: \x07",
        r"bad\.yml:1:1: this is not valid YAML: unacceptable character #x0007: special "
        r"characters are not allowed\n",
        id="control character",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace("field: customer.id", "field: customers.id", 1),
        r"bad\.yml:\d+:\d+: `customers.id` is not a field of this dataset",
        id="reference to nothing",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace(
            "fides_meta:\n              primary_key: True", "fides_meta: yes", 1
        ),
        r"bad\.yml:14:25: `fides_meta` of field `id` must be a mapping\.",
        id="meta no mapping",
    ),
    pytest.param(
        SAMPLE.read_text(encoding="utf-8").replace("direction: from", "direction: sideways", 1),
        r"the reference to `customer.id` needs `direction: from`",
        id="no direction",
    ),
]


@pytest.mark.parametrize(("content", "said"), BAD_INPUTS)
def test_bad_input_is_refused_with_its_place_and_nothing_written(
    tmp_path: Path, content: str, said: str
) -> None:
    source, out = tmp_path / "bad.yml", tmp_path / "map.yaml"
    source.write_text(content, encoding="utf-8")
    code, output = run("map", "import-fides", str(source), "--out", str(out), env=ENGLISH)
    assert code == 2
    assert re.search(said, output), output
    assert "in the Fides file: nothing written." in output
    assert not out.exists()


def test_an_existing_map_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "map.yaml"
    out.write_text("mine", encoding="utf-8")
    code, output = run("map", "import-fides", str(SAMPLE), "--out", str(out), env=ENGLISH)
    assert code == 2
    assert "already exists" in output
    assert out.read_text(encoding="utf-8") == "mine"


# --- 2. the completed skeleton on Fides' sample database ---------------------------------------


def create_sample_database(url: str) -> None:
    """Run Fides' SQL on PostgreSQL as it is; on SQLite and MariaDB, without what they have no
    notion of: PostgreSQL's schemas (the `public.` prefix, the backup schema), sequences, SERIAL
    (the rows give their keys) and the MONEY type of a product's price (kept as its text)."""
    statements = [s.strip() for s in SAMPLE_SQL.read_text(encoding="utf-8").split(";\n")]
    statements = [s for s in statements if re.sub(r"(?m)^--.*$", "", s).strip()]
    if not url.startswith("postgresql"):
        statements = [
            s.replace("public.", "")
            .replace("SERIAL PRIMARY KEY", "INTEGER PRIMARY KEY")
            .replace("MONEY", "VARCHAR(20)")
            for s in statements
            if "backup_schema" not in s and "ALTER SEQUENCE" not in s
        ]
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


CUSTOMER_1 = {
    "customer": {(1,)},
    "address": {(1,), (2,)},  # the customer's own, an order's shipping and a card's billing
    "orders": {("ord_aaa-aaa",), ("ord_ccc-ccc",), ("ord_ddd-ddd",)},
    "order_item": {("ord_aaa-aaa", 1), ("ord_ccc-ccc", 1), ("ord_ccc-ccc", 2), ("ord_ddd-ddd", 1)},
    "product": {(1,), (2,)},
    "payment_card": {("pay_aaa-aaa",)},
    "login": {(n,) for n in range(1, 7)},
    "visit": {("customer-1@example.com", datetime(2021, 1, 6, 1))},
    "service_request": {("ser_aaa-aaa",)},
}
JANE = {  # her order's items are filed under another order id in Fides' rows: none is hers
    "customer": {(3,)},
    "address": {(4,)},
    "orders": {("ord_ddd-eee",)},
    "payment_card": {("pay_ccc-ccc",)},
    "login": {(8,)},
}


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
@pytest.mark.parametrize(
    ("email", "rows"), [("customer-1@example.com", CUSTOMER_1), ("jane@example.com", JANE)]
)
def test_the_imported_links_find_exactly_a_customers_rows(
    tmp_path: Path, engine_url: str, email: str, rows: dict[str, set[tuple[Any, ...]]]
) -> None:
    data_map = completed_map(import_sample(tmp_path))
    create_sample_database(engine_url)
    with Systems(data_map, {URL_ENV: engine_url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", email.upper())
    found = {
        table: {tuple(key) for key in match.keys}
        for (_, table), match in location.tables.items()
        if match.keys
    }
    assert found == rows


# --- 3. export, and back -----------------------------------------------------------------------


def shape(data_map: DataMap) -> dict[str, Any]:
    """What a round trip keeps: each table's key and links, and the columns of the categories."""
    return {
        name: {
            "tables": {
                t: (spec.primary_key, sorted(link.to + "<-" + link.column for link in spec.links))
                for t, spec in system.tables.items()
            },
            "fields": sorted(
                f.column for c in data_map.categories.values() for f in c.fields_in(name)
            ),
        }
        for name, system in data_map.systems.items()
    }


@pytest.mark.parametrize(
    "map_path",
    [ROOT / "data_map.yaml", ROOT / "tests" / "webshop" / "webshop_map.yaml"],
    ids=["point3", "webshop"],
)
def test_a_map_goes_to_fides_and_back_with_the_same_tables_fields_and_links(
    tmp_path: Path, map_path: Path
) -> None:
    exported = tmp_path / "exported.fides.yml"
    code, output = run(
        "--map", str(map_path), "map", "export-fides", "-o", str(exported), env=ENGLISH
    )
    assert code == 0, output
    assert "1 Fides dataset written to" in output
    back = completed_map(import_sample(tmp_path, exported))
    assert shape(back) == shape(load_data_map(map_path))


def test_point3_fields_go_to_fides_with_their_fideslang_categories(tmp_path: Path) -> None:
    exported = tmp_path / "point3.fides.yml"
    code, output = run(
        "--map", str(ROOT / "data_map.yaml"), "map", "export-fides", "-o", str(exported)
    )
    assert code == 0, output
    assert "1 dataset Fides écrit dans" in output  # in the staff's language, French by default
    dataset = yaml.safe_load(exported.read_text(encoding="utf-8"))["dataset"][0]
    learner = {
        f["name"]: f for c in dataset["collections"] if c["name"] == "learner" for f in c["fields"]
    }
    assert learner["email"]["data_categories"] == ["user.contact.email"]  # its fides_category
    assert learner["email"]["fides_meta"] == {"identity": "email"}
    assert learner["created_at"]["data_categories"] == ["user"]  # personal, not classified
    assert learner["id"]["data_categories"] == ["system.operations"]  # a key the map names
    assert learner["id"]["fides_meta"] == {"primary_key": True, "identity": "learner_id"}


def test_a_fides_category_outside_the_taxonomy_is_refused_at_its_line(tmp_path: Path) -> None:
    text = (ROOT / "data_map.yaml").read_text(encoding="utf-8")
    line = text.split("\n").index("        fides_category: user.contact.email") + 1
    broken = tmp_path / "map.yaml"
    broken.write_text(
        text.replace("fides_category: user.contact.email", "fides_category: user.mail", 1)
    )
    code, output = run("--map", str(broken), "map", "check")
    assert code == 1
    assert f"map.yaml:{line}:25: `user.mail` is not a fideslang data category" in output, output


def test_the_imported_sample_exports_its_fideslang_categories_back(tmp_path: Path) -> None:
    source = tmp_path / "done.yaml"
    source.write_text(
        yaml.safe_dump(complete(import_sample(tmp_path), KEYS_FIDES_DOES_NOT_NAME)),
        encoding="utf-8",
    )
    code, output = run("--map", str(source), "map", "export-fides")
    assert code == 0, output
    exported = yaml.safe_load(output)["dataset"][0]
    original = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))["dataset"][0]
    assert exported["fides_key"] == original["fides_key"]

    def categories(dataset: dict[str, Any]) -> dict[str, list[str]]:
        return {
            f"{c['name']}.{f['name']}": f["data_categories"]
            for c in dataset["collections"]
            for f in c["fields"]
        }

    def meta(dataset: dict[str, Any], key: str) -> dict[str, Any]:
        return {
            f"{c['name']}.{f['name']}": f["fides_meta"][key]
            for c in dataset["collections"]
            for f in c["fields"]
            if key in f.get("fides_meta", {})
        }

    ours = categories(exported)
    assert {k: v for k, v in ours.items() if k in categories(original)} == categories(original)
    assert set(ours) - set(categories(original)) == {"order_item.item_no"}  # the key we added
    assert meta(exported, "references") == meta(original, "references")
    assert meta(exported, "identity") == meta(original, "identity")
