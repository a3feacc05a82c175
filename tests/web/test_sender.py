"""Every public page and every email names the organisation and its DPO, from the desk's map
(a page or an email that names no one reads like phishing): POINT3's map, and another one."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from dsr.outbox.emails import EMAIL_TEMPLATES
from tests.conftest import MakeApp
from tests.smtp_server import SmtpServer
from tests.web.conftest import STATUS_LINK, follow_to_status, link_in

WEBSHOP_MAP = Path(__file__).parents[1] / "webshop" / "webshop_map.yaml"
MAPS = {
    "point3": (None, "POINT3", "dpo@point3.example"),
    "webshop": (str(WEBSHOP_MAP), "Boutique des Lilas SARL", "dpo@shop.example"),
}


def _names_the_sender(text: str, organisation: str, dpo_email: str) -> None:
    assert organisation in text
    assert dpo_email in text


@pytest.mark.parametrize("which", sorted(MAPS))
def test_public_pages_and_emails_name_the_organisation_and_its_dpo(
    make_app: MakeApp, smtp_server: SmtpServer, which: str
) -> None:
    data_map, organisation, dpo_email = MAPS[which]
    app = make_app(**({"DATA_MAP": data_map} if data_map else {}))
    client: FlaskClient = app.test_client()
    for path in ("/", "/resend", "/resend/sent"):
        page = client.get(path)
        assert page.status_code == 200, path
        _names_the_sender(page.get_data(as_text=True), organisation, dpo_email)

    status = follow_to_status(client, smtp_server)
    _names_the_sender(client.get(status).get_data(as_text=True), organisation, dpo_email)
    emails = smtp_server.wait_for(2)
    assert link_in(emails[1].text, STATUS_LINK) == status
    for email in emails:
        _names_the_sender(email.text, organisation, dpo_email)
        assert email.html is not None
        _names_the_sender(email.html, organisation, dpo_email)


def test_every_email_template_signs_with_the_sender() -> None:
    """Each email extends the layouts that sign it: a new template cannot forget the line."""
    for template in sorted(EMAIL_TEMPLATES.glob("*.txt")) + sorted(EMAIL_TEMPLATES.glob("*.html")):
        if template.stem == "layout":
            continue
        first = template.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first == f'{{% extends "layout{template.suffix}" %}}', template.name
