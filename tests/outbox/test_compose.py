"""Composing outgoing emails: structure, headers, and refusal of header injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from dsr.outbox.compose import compose_email

SENDER = "Privacy desk <privacy@desk.example>"
TO = "elodie.martin@learners.example"


def compose(**overrides: object) -> EmailMessage:
    arguments: dict[str, object] = {
        "sender": SENDER,
        "to": TO,
        "subject": "Votre demande d'accès à vos données",
        "text": "Bonjour,\nVoici le lien : https://desk.example/v/abc\n",
        "html": "<p>Bonjour,</p><p><a href='https://desk.example/v/abc'>Confirmer</a></p>",
        "message_id_domain": "desk.example",
    }
    arguments.update(overrides)
    return compose_email(**arguments)  # type: ignore[arg-type]


def test_a_message_has_a_text_and_an_html_alternative_in_utf8() -> None:
    message = compose_email(
        sender=SENDER,
        to=TO,
        subject="Votre demande d'accès",
        text="Données reçues — merci.\n",
        html="<p>Données reçues — merci.</p>\n",
        message_id_domain="desk.example",
    )

    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert text.get_content() == "Données reçues — merci.\n"
    assert html.get_content() == "<p>Données reçues — merci.</p>\n"
    assert message["Subject"] == "Votre demande d'accès"
    assert message.as_bytes().isascii()  # encoded words and transfer encodings, no raw 8-bit


def test_the_headers_name_no_one_but_the_recipient() -> None:
    message = compose_email(
        sender=SENDER,
        to=TO,
        subject="Your request",
        text="Hello\n",
        html=None,
        message_id_domain="desk.example",
    )

    assert sorted(message.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        ]
    )
    assert message["To"] == TO
    assert message["From"] == SENDER
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@desk.example>")
    assert message["Date"].datetime.tzinfo is not None
    assert message.get_content_type() == "text/plain"  # no HTML given: a single part


def test_stored_message_id_date_and_language_are_used_as_given() -> None:
    sent_at = datetime(2025, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=1)))

    message = compose(message_id="<kept@desk.example>", date=sent_at, language="fr")

    assert message["Message-ID"] == "<kept@desk.example>"
    assert message["Date"].datetime == sent_at.astimezone(UTC)
    assert message["Content-Language"] == "fr"


def test_two_messages_get_different_message_ids() -> None:
    assert compose()["Message-ID"] != compose()["Message-ID"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "victim@learners.example\r\nBcc: everyone@learners.example"),
        ("to", "victim@learners.example\nBcc: everyone@learners.example"),
        ("subject", "Hello\r\nBcc: everyone@learners.example"),
        ("subject", "Hello\rX-Injected: yes"),
        ("subject", "Hello\u2028X-Injected: yes"),
        ("sender", "desk@desk.example\nBcc: everyone@learners.example"),
        ("message_id", "<a@desk.example>\r\nX-Injected: yes"),
    ],
)
def test_a_line_break_in_a_header_value_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        compose(**{field: value})


@pytest.mark.parametrize(
    "to",
    [
        "one@learners.example, two@learners.example",
        "Élodie Martin <elodie.martin@learners.example>",
        "not an address",
        "nobody@",
        "@learners.example",
        "",
    ],
)
def test_the_recipient_must_be_one_bare_address(to: str) -> None:
    with pytest.raises(ValueError, match="recipient"):
        compose(to=to)


def test_the_sender_must_be_one_mailbox() -> None:
    with pytest.raises(ValueError, match="sender"):
        compose(sender="a@desk.example, b@desk.example")


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        compose(date=datetime(2025, 1, 1, 12, 0))
