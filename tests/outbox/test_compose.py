"""Composing outgoing emails: structure, headers, and refusal of header injection."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone
from email.generator import BytesGenerator
from email.message import EmailMessage

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dsr.outbox.compose import compose_email, compose_email_bytes

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


def flattened(message: EmailMessage) -> bytes:
    """The bytes smtplib's send_message sends for `message` (an ASCII envelope)."""
    with io.BytesIO() as written:
        BytesGenerator(written).flatten(message, linesep="\r\n")
        return written.getvalue()


def without_boundary(message: bytes) -> bytes:
    return BOUNDARY.sub(b"BOUNDARY", message)


BOUNDARY = re.compile(rb"={15}\d{19}==")
HEADER_TEXT = st.text(
    alphabet=st.sampled_from([*"aZ09 .,:;!?'\"()<>@=?-_/", "é", "—", "東", "\t"]), max_size=120
)
BODY_TEXT = st.text(
    alphabet=st.sampled_from([*"aZ09 .=-<>&\"'", "\n", "\r", "\t", "é", "€", "\u2028"]),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@example(  # an encoded word, which the email package decodes
    sender=SENDER, to=TO, subject="Re: =?utf-8?q?abc?=", text="", html=None, language=None
)
@given(
    sender=st.sampled_from(
        [SENDER, "desk@desk.example", "Dupont S.A. <dpo@dupont.example>", "Désiré <d@desk.example>"]
    ),
    to=st.sampled_from(
        [TO, " a.b+c-d_e@sub.learners.example ", "élodie@learners.example", "x" * 70 + "@l.example"]
    ),
    subject=HEADER_TEXT,
    text=BODY_TEXT,
    html=st.none() | BODY_TEXT,
    language=st.sampled_from([None, "en", "fr", "pt-BR"]),
)
def test_the_bytes_sent_are_those_of_the_composed_message(
    sender: str, to: str, subject: str, text: str, html: str | None, language: str | None
) -> None:
    arguments: dict[str, object] = {
        "sender": sender,
        "to": to,
        "subject": subject,
        "text": text,
        "html": html,
        "message_id_domain": "desk.example",
        "message_id": "<4f1c@desk.example>",
        "date": datetime(2026, 1, 31, 9, 30, tzinfo=UTC),
        "language": language,
    }
    try:
        message = compose_email(**arguments)  # type: ignore[arg-type]
    except ValueError as error:
        try:
            refused = compose_email_bytes(**arguments)  # type: ignore[arg-type]
        except ValueError as same:
            assert str(same) == str(error)
        else:
            assert refused is None  # left to compose_email, which refuses it
        return

    flat = compose_email_bytes(**arguments)  # type: ignore[arg-type]

    if not (sender + to).isascii():
        assert flat is None  # the email package writes it, for smtplib to send with SMTPUTF8
    else:
        assert flat is not None
        assert without_boundary(flat) == without_boundary(flattened(message))
