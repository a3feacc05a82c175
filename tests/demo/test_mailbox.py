"""The demo's mailbox: the SMTP sink keeps what it receives as owner-only .eml files, and the
demo-only pages list and show them, escaped, with clickable links; outside demo mode they do not
exist."""

from __future__ import annotations

import smtplib
import socket
import stat
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from dsr.demo.mailbox import MESSAGE_NAME, MailSink, list_mail, read_mail
from dsr.demo.views import TextPiece, linked_pieces
from tests.conftest import MakeApp
from tests.waiting import WAIT_SECONDS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def send(port: int, *, subject: str, text: str, to: str = "zoe@example.org") -> None:
    message = EmailMessage()
    message["From"] = "privacy-desk@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative("<p>html part</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT_SECONDS) as client:
        client.send_message(message)


@pytest.fixture
def mail_folder(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "mail"


@pytest.fixture
def received(mail_folder: Path) -> Path:
    """One message sent with smtplib to a running sink; return its file."""
    with MailSink(mail_folder, port=free_port()) as sink:
        send(
            sink.port,
            subject='Confirm <script>alert("x")</script>',
            text="Hello <b>Zoé</b>,\n\nClick http://127.0.0.1:5000/verify/abc.DEF-1_2 to confirm.",
        )
    files = list(mail_folder.iterdir())
    assert len(files) == 1
    return files[0]


def test_the_sink_writes_each_message_owner_only(received: Path, mail_folder: Path) -> None:
    assert MESSAGE_NAME.match(received.name)
    assert "zoe" not in received.name.lower()
    assert stat.S_IMODE(received.stat().st_mode) == 0o600
    assert stat.S_IMODE(mail_folder.stat().st_mode) == 0o700
    assert b"Subject: Confirm" in received.read_bytes()


def test_messages_are_listed_newest_first_and_read_back(mail_folder: Path) -> None:
    threads = threading.active_count()
    with MailSink(mail_folder, port=free_port()) as sink:
        send(sink.port, subject="first", text="one")
        send(sink.port, subject="second", text="two")
    assert threading.active_count() == threads
    mails = list_mail(mail_folder)
    assert [mail.subject for mail in mails] == ["second", "first"]
    assert mails[1].text == "one\n"
    assert mails[1].recipients == "zoe@example.org"


def test_only_names_the_sink_gives_are_read(mail_folder: Path, tmp_path: Path) -> None:
    mail_folder.mkdir(parents=True)
    (tmp_path / "secret.eml").write_text("Subject: no\n\nno")
    (mail_folder / "notes.txt").write_text("no")
    assert read_mail(mail_folder, "../secret.eml") is None
    assert read_mail(mail_folder, "20260101T000000.000000Z-000001.eml") is None
    assert list_mail(mail_folder) == []
    assert list_mail(tmp_path / "absent") == []


def test_a_taken_port_is_an_error_and_leaves_no_thread(mail_folder: Path) -> None:
    threads = threading.active_count()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            MailSink(mail_folder, port=taken.getsockname()[1]).start()
    assert threading.active_count() == threads


def test_urls_become_links_and_the_rest_stays_text() -> None:
    assert linked_pieces("Go to https://a.example/x?y=1. Or not") == [
        TextPiece("Go to ", is_link=False),
        TextPiece("https://a.example/x?y=1", is_link=True),
        TextPiece(". Or not", is_link=False),
    ]
    assert linked_pieces("javascript:alert(1)") == [TextPiece("javascript:alert(1)", False)]


def test_the_pages_list_and_show_the_mail_escaped_with_its_link(
    received: Path, mail_folder: Path, make_app: MakeApp
) -> None:
    client = make_app(DEMO_MODE=True, DEMO_MAIL_FOLDER=str(mail_folder)).test_client()
    listing = client.get("/demo/mail")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert f'href="/demo/mail/{received.name}"' in page
    assert "<script>" not in page
    assert "Confirm &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page

    shown = client.get(f"/demo/mail/{received.name}")
    assert shown.status_code == 200
    assert "script-src" not in shown.headers["Content-Security-Policy"]
    body = shown.get_data(as_text=True)
    assert "Hello &lt;b&gt;Zoé&lt;/b&gt;" in body and "<b>Zoé" not in body
    link = "http://127.0.0.1:5000/verify/abc.DEF-1_2"
    assert f'<a href="{link}">{link}</a> to confirm.' in body
    assert "html part" not in body
    assert " style=" not in body and "<script" not in body

    assert client.get("/demo/mail/20260101T000000.000000Z-000001.eml").status_code == 404
    assert client.get("/demo/mail/..%2Fdemo-secret").status_code == 404


def test_the_pages_do_not_exist_outside_demo_mode(
    received: Path, mail_folder: Path, make_app: MakeApp
) -> None:
    app = make_app(DEMO_MODE=False, DEMO_MAIL_FOLDER=str(mail_folder))
    client = app.test_client()
    assert client.get("/demo/mail").status_code == 404
    assert client.get(f"/demo/mail/{received.name}").status_code == 404
    assert "demo" not in app.blueprints
