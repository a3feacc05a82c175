"""The privacy notice at /privacy and /privacy.pdf: open to anyone, in French or English, saying
what the map holds (controller, DPO, authority, each activity, sources, rights), versioned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient

from dsr.datamap import DEFAULT_MAP_PATH
from dsr.links import DEVELOPMENT_PUBLIC_URL
from tests.exports.conftest import pdf_text
from tests.exports.demo_subject import qpdf_check

WEBSHOP_MAP = Path(__file__).resolve().parents[1] / "webshop" / "webshop_map.yaml"


def page(client: FlaskClient, path: str = "/privacy") -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_the_notice_in_english_says_what_the_map_holds(client: FlaskClient) -> None:
    client.get("/lang/en")
    text = page(client)

    assert "Privacy notice" in text
    assert "dpo@point3.example" in text
    assert "Commission nationale de l&#39;informatique et des libertés (CNIL)" in text
    assert "Information requests (prospects)" in text  # a category, by its title
    assert "Create and manage the learner&#39;s account and profile" in text
    assert "Legitimate interests of the controller" in text
    assert "3 years" in text  # a retention period
    assert "3 years after your last contact with us." in text  # with its condition
    assert "Handling of data-subject requests" in text  # the desk's own activity
    # Art. 14: a category the person did not provide, with its source
    assert "The platform, from your use of our services." in text
    for right in ("Access", "Rectification", "Erasure", "Restriction", "Portability"):
        assert f"{right}:" in text
    assert "Objection:" in text and "Withdrawal of consent:" in text
    assert "Post-mortem directives" in text and "Complaint:" in text
    assert f'href="{DEVELOPMENT_PUBLIC_URL}/"' in text  # the request form
    assert "makes no decision about you based solely on automated processing" in text
    assert "Version of this notice" in text


def test_the_notice_in_french(client: FlaskClient) -> None:
    client.get("/lang/fr")
    text = page(client)

    assert "Politique de confidentialité" in text
    assert "Vos droits" in text
    assert "Demandes d&#39;information (prospects)" in text
    assert "3 ans" in text
    assert "Directives post mortem" in text


def test_every_public_page_links_to_the_notice(client: FlaskClient) -> None:
    for path in ("/", "/privacy"):
        assert 'href="/privacy"' in page(client, path)


def test_the_pdf_in_each_language(client: FlaskClient, tmp_path: Path) -> None:
    english = client.get("/privacy.pdf", query_string={"lang": "en"})
    french = client.get("/privacy.pdf", query_string={"lang": "fr"})

    assert english.status_code == french.status_code == 200
    assert english.mimetype == "application/pdf"
    qpdf_check(english.get_data(), tmp_path)
    qpdf_check(french.get_data(), tmp_path)
    english_text = " ".join(pdf_text(english.get_data()).split())
    french_text = " ".join(pdf_text(french.get_data()).split())
    assert "Privacy notice" in english_text and "dpo@point3.example" in english_text
    assert "Post-mortem directives" in english_text
    assert f"Exercise your rights with the request form {DEVELOPMENT_PUBLIC_URL}/" in english_text
    assert "Vos droits" in french_text and "3 ans" in french_text


def test_a_language_not_offered_is_refused(client: FlaskClient) -> None:
    answer = client.get("/privacy.pdf", query_string={"lang": "de"})
    assert answer.status_code == 400


def test_the_notice_shows_its_version_and_what_changed(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    document = yaml.safe_load(DEFAULT_MAP_PATH.read_text(encoding="utf-8"))
    map_path = tmp_path / "map.yaml"
    map_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    client = make_app(DATA_MAP=str(map_path)).test_client()
    client.get("/lang/en")

    first = page(client)
    assert "Version of this notice" in first and "No change" in first
    document["recipients"]["hosting"]["country"] = "DE"
    map_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    second = page(client)

    assert "Recipient changed: Platform hosting provider" in second  # by its title
    pdf = " ".join(pdf_text(client.get("/privacy.pdf").get_data()).split())
    assert "Recipient changed: Platform hosting provider" in pdf
    del document["recipients"]["payment_provider"]
    for category in document["categories"].values():
        category["recipients"] = [r for r in category["recipients"] if r != "payment_provider"]
    map_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert "Recipient removed: payment_provider" in page(client)  # all that is left of it


def test_another_map_gives_its_own_notice(make_app: Callable[..., Flask]) -> None:
    client = make_app(DATA_MAP=str(WEBSHOP_MAP)).test_client()
    client.get("/lang/en")
    text = page(client)
    webshop = yaml.safe_load(WEBSHOP_MAP.read_text(encoding="utf-8"))

    assert webshop["organisation"]["name"] in text
    assert "POINT3" not in text


def test_a_map_that_does_not_load_gives_503_not_500(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\norganisation: {}\n", encoding="utf-8")
    client = make_app(DATA_MAP=str(broken)).test_client()

    assert client.get("/privacy").status_code == 503
    assert client.get("/privacy.pdf").status_code == 503
