"""The data map page shows each category as people read it, in the reader's language, with the
register to download; a map that cannot be loaded gives a page that says where it is wrong."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape

from dsr.datamap import DEFAULT_MAP_PATH
from dsr.languages import Language, translations
from exports.ropa import ropa_headings
from exports.ropa_versions import map_digest
from inventory.loader import load_data_map
from tests.dashboard.staff_pages import ROLES, StaffClient, app_config, staff_client
from tests.exports.conftest import pdf_text

__all__ = ["app_config", "staff_client"]  # the fixtures used here

POINT3 = load_data_map(DEFAULT_MAP_PATH)


@pytest.mark.parametrize("role", ROLES)
def test_the_map_shows_every_category_in_english(staff_client: StaffClient, role: str) -> None:
    page = staff_client(role).get("/dashboard/map", headers={"Accept-Language": "en"})

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for key, category in POINT3.categories.items():
        assert f'id="category-{key}"' in text
        assert category.title.en in text
        assert category.retention.period.describe(translations(Language.EN)) in text
        for basis in category.bases:
            assert basis.describe(translations(Language.EN)) in text
        for ground in category.legal_bases:  # several grounds: each with what it covers
            assert escape(ground.describe("en", translations(Language.EN))) in text
    assert "/dashboard/map/register-fr.pdf" in text
    assert "/dashboard/map/register-en.csv" in text


def test_the_map_speaks_french_to_a_french_reader(staff_client: StaffClient) -> None:
    page = staff_client("dpo").get("/dashboard/map", headers={"Accept-Language": "fr"})

    text = page.get_data(as_text=True)
    first = next(iter(POINT3.categories.values()))
    assert first.title.fr in text
    assert first.legal_basis.describe(translations(Language.FR)).replace("'", "&#39;") in text
    assert first.retention.period.describe(translations(Language.FR)) in text


@pytest.mark.parametrize("fmt", ["pdf", "csv", "xlsx"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_register_downloads(staff_client: StaffClient, language: str, fmt: str) -> None:
    download = staff_client("auditor").get(f"/dashboard/map/register-{language}.{fmt}")

    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="register-{language}.{fmt}"'
    )
    body = download.get_data()
    name = next(iter(POINT3.activities.values())).name.get(language)
    if fmt == "pdf":
        assert body.startswith(b"%PDF")
    elif fmt == "xlsx":
        with zipfile.ZipFile(io.BytesIO(body)) as workbook:
            assert name in workbook.read("xl/sharedStrings.xml").decode()
    else:
        separator = ";" if language == "fr" else ","
        assert body.startswith(b"\xef\xbb\xbf")
        assert body.decode("utf-8-sig").startswith(
            f"{ropa_headings(translations(Language(language)))['activity_id']}{separator}"
        )
        assert name in body.decode("utf-8")


def test_an_unknown_register_is_not_found(staff_client: StaffClient) -> None:
    client = staff_client("dpo")
    assert client.get("/dashboard/map/register-de.pdf").status_code == 404
    assert client.get("/dashboard/map/register-fr.docx").status_code == 404
    assert client.get("/dashboard/map/register-fr.").status_code == 404
    assert client.get("/dashboard/map/register-.xlsx").status_code == 404


def test_the_page_shows_the_registers_version_and_its_changes(
    staff_client: StaffClient, app: Flask, tmp_path: Path, app_config: dict[str, Any]
) -> None:
    client = staff_client("dpo")
    page = client.get("/dashboard/map", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<dt>Version</dt><dd>1</dd>" in page
    assert map_digest(POINT3) in page

    changed = DEFAULT_MAP_PATH.read_text(encoding="utf-8").replace(
        "  surveys:\n    name:\n      fr: Enquêtes de satisfaction",
        "  surveys:\n    name:\n      fr: Enquêtes",
    )
    path = tmp_path / "changed.yaml"
    path.write_text(changed, encoding="utf-8")
    app.config["DATA_MAP"] = str(path)
    pdf = client.get("/dashboard/map/register-en.pdf").get_data()
    page = client.get("/dashboard/map", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "<dt>Version</dt><dd>2</dd>" in page
    assert "<li>Activity changed: surveys</li>" in page
    text = " ".join(pdf_text(pdf).split())
    assert "Version 2" in text and "Activity changed: surveys" in text
    book = client.get("/dashboard/map/register-en.xlsx").get_data()
    with zipfile.ZipFile(io.BytesIO(book)) as workbook:
        strings = workbook.read("xl/sharedStrings.xml").decode()
        assert '<sheet name="Version"' in workbook.read("xl/workbook.xml").decode()
    assert "Activity changed: surveys" in strings and map_digest(POINT3) not in strings


@pytest.fixture
def broken_map(tmp_path: Path, app_config: dict[str, Any]) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\norganisation: {}\nsurprise: true\n", encoding="utf-8")
    app_config["DATA_MAP"] = str(path)
    return path


def test_a_broken_map_shows_its_problems(
    broken_map: Path, app: Flask, staff_client: StaffClient
) -> None:
    client = staff_client("dpo")
    page = client.get("/dashboard/map")

    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert 'role="alert"' in text
    assert f"{broken_map}:3:1" in text
    assert client.get("/dashboard/map/register-fr.pdf").status_code == 503
