"""Delivery over SMTP against a real server on loopback, and the retry schedule."""

from __future__ import annotations

import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest

from dsr.outbox import smtp
from dsr.outbox.compose import compose_email
from dsr.outbox.smtp import (
    MAX_ATTEMPTS,
    DeliveryError,
    PermanentDeliveryError,
    SmtpConnection,
    SmtpSettings,
    SmtpSettingsError,
    TransientDeliveryError,
    next_attempt_delay,
    send_email,
)
from tests.smtp_server import SmtpServer, TlsFiles

SENDER = "privacy@desk.example"
LEARNER = "elodie.martin@learners.example"


def message_to(to: str = LEARNER, subject: str = "Confirmez votre demande d'accès") -> EmailMessage:
    return compose_email(
        sender=f"Privacy desk <{SENDER}>",
        to=to,
        subject=subject,
        text="Bonjour,\nConfirmez ici : https://desk.example/v/tok\n",
        html='<p>Bonjour,</p><p><a href="https://desk.example/v/tok">Confirmer</a></p>\n',
        message_id_domain="desk.example",
    )


def settings_for(server: SmtpServer, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "timeout": 30.0,  # a bound on the loopback server's answers, which come at once
        "sender": SENDER,
    }
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def assert_no_personal_data(error: DeliveryError) -> None:
    """The reason, the message and the printed traceback name neither party."""
    printed = "".join(traceback.format_exception(error))
    for text in (error.reason, str(error), repr(error), printed):
        for personal in (LEARNER, "elodie", "learners.example", SENDER, "Bonjour"):
            assert personal not in text


# -- delivery ----------------------------------------------------------------------------------


def test_a_message_is_delivered_with_its_text_and_html_parts(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server, sender=f"Privacy desk <{SENDER}>")

    send_email(message_to(subject="Votre demande d'accès à vos données — reçue"), settings)

    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_sender == SENDER  # the bare address of the configured mailbox
    assert mail.envelope_recipients == (LEARNER,)
    assert mail.message["Subject"] == "Votre demande d'accès à vos données — reçue"
    assert mail.message["To"] == LEARNER
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.text == "Bonjour,\nConfirmez ici : https://desk.example/v/tok\n"
    assert mail.html is not None and 'href="https://desk.example/v/tok"' in mail.html


def test_a_temporary_refusal_is_transient_and_a_later_attempt_delivers_once(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.refuse_next(1, code=451)
    settings = settings_for(smtp_server)
    message = message_to()

    with pytest.raises(TransientDeliveryError) as refused:
        send_email(message, settings)
    assert refused.value.smtp_code == 451
    assert refused.value.reason == "message refused: 451 4.0.0"
    assert smtp_server.messages == []

    send_email(message, settings)
    assert len(smtp_server.wait_for(1)) == 1
    assert smtp_server.transactions == 2


@pytest.mark.parametrize(
    ("stage", "code", "error_type", "reason"),
    [
        ("MAIL", 421, TransientDeliveryError, "sender refused: 421 4.0.0"),
        ("RCPT", 450, TransientDeliveryError, "recipient refused: 450 4.0.0"),
        ("RCPT", 550, PermanentDeliveryError, "recipient refused: 550 5.0.0"),
        ("MAIL", 553, PermanentDeliveryError, "sender refused: 553 5.0.0"),
        ("DATA", 554, PermanentDeliveryError, "message refused: 554 5.0.0"),
    ],
)
def test_4xx_replies_are_transient_and_5xx_permanent_at_every_stage(
    smtp_server: SmtpServer,
    stage: str,
    code: int,
    error_type: type[DeliveryError],
    reason: str,
) -> None:
    smtp_server.refuse_next(1, code=code, at=stage)  # type: ignore[arg-type]

    with pytest.raises(DeliveryError) as refused:
        send_email(message_to(), settings_for(smtp_server))

    assert type(refused.value) is error_type
    assert (refused.value.reason, refused.value.smtp_code) == (reason, code)
    assert_no_personal_data(refused.value)
    assert smtp_server.messages == []


def test_an_unknown_recipient_is_permanent_and_its_address_is_not_in_the_reason(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.refuse_next(1, code=550, at="RCPT")  # the reply names the address, as Postfix does

    with pytest.raises(PermanentDeliveryError) as refused:
        send_email(message_to(), settings_for(smtp_server))

    assert_no_personal_data(refused.value)


def test_a_server_that_is_down_is_transient_until_it_comes_back(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server)
    smtp_server.stop()

    with pytest.raises(TransientDeliveryError) as down:
        send_email(message_to(), settings)
    assert down.value.reason == "cannot connect: connection refused"
    assert_no_personal_data(down.value)

    smtp_server.start()
    send_email(message_to(), settings)
    assert len(smtp_server.wait_for(1)) == 1


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A socket that accepts TCP connections (the kernel does) but never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener


def test_a_server_that_does_not_answer_times_out_as_transient(
    silent_server: socket.socket,
) -> None:
    settings = SmtpSettings(port=silent_server.getsockname()[1], host="127.0.0.1", timeout=0.2)

    with pytest.raises(TransientDeliveryError) as silent:
        send_email(message_to(), settings)

    assert silent.value.reason == "cannot connect: timed out"


def test_a_message_for_several_recipients_is_refused_before_connecting() -> None:
    message = message_to()
    message["Cc"] = "someone.else@learners.example"

    with pytest.raises(ValueError, match="exactly one recipient"):
        send_email(message, SmtpSettings(host="127.0.0.1", port=9))


def test_the_server_leaves_no_thread_behind() -> None:
    before = threading.active_count()
    with SmtpServer() as server:
        send_email(message_to(), settings_for(server))
        server.stop()
        server.start()
    assert threading.active_count() == before


def test_wait_for_fails_when_the_messages_do_not_come(smtp_server: SmtpServer) -> None:
    with pytest.raises(AssertionError, match="expected 1 message"):
        smtp_server.wait_for(1, timeout=0.05)


# -- TLS and authentication ------------------------------------------------------------------


def test_starttls_with_authentication_delivers(smtp_tls_files: TlsFiles) -> None:
    with SmtpServer(
        starttls=smtp_tls_files.server_context(), credentials=("desk", "s3cret")
    ) as server:
        settings = settings_for(server, starttls=True, username="desk", password="s3cret")

        send_email(message_to(), settings, ssl_context=smtp_tls_files.client_context())

        assert len(server.wait_for(1)) == 1


def test_wrong_credentials_are_transient(smtp_tls_files: TlsFiles) -> None:
    with SmtpServer(
        starttls=smtp_tls_files.server_context(), credentials=("desk", "s3cret")
    ) as server:
        settings = settings_for(server, starttls=True, username="desk", password="Tr0ub4dor-3")

        with pytest.raises(TransientDeliveryError) as refused:
            send_email(message_to(), settings, ssl_context=smtp_tls_files.client_context())

    assert refused.value.reason.startswith("authentication failed: 535")
    assert "Tr0ub4dor" not in "".join(traceback.format_exception(refused.value))


def test_an_untrusted_certificate_is_transient(smtp_tls_files: TlsFiles) -> None:
    with (
        SmtpServer(starttls=smtp_tls_files.server_context()) as server,
        pytest.raises(TransientDeliveryError) as untrusted,
    ):
        send_email(message_to(), settings_for(server, starttls=True))  # system CAs only

    assert untrusted.value.reason == "STARTTLS failed: the server's TLS certificate is not trusted"


def test_starttls_asked_of_a_server_without_it_is_transient(smtp_server: SmtpServer) -> None:
    with pytest.raises(TransientDeliveryError) as unsupported:
        send_email(message_to(), settings_for(smtp_server, starttls=True))

    assert unsupported.value.reason == "the server does not support STARTTLS"
    assert smtp_server.messages == []


def test_implicit_tls_delivers(smtp_tls_files: TlsFiles) -> None:
    with SmtpServer(implicit_tls=smtp_tls_files.server_context()) as server:
        settings = settings_for(server, ssl=True)

        send_email(message_to(), settings, ssl_context=smtp_tls_files.client_context())

        assert len(server.wait_for(1)) == 1


# -- settings --------------------------------------------------------------------------------


def test_settings_are_read_from_a_flask_config_after_from_prefixed_env() -> None:
    # from_prefixed_env("DSR") strips the prefix and parses values as JSON when it can.
    config = {
        "SMTP_HOST": "smtp.desk.example",
        "SMTP_PORT": 2525,
        "SMTP_USERNAME": "desk",
        "SMTP_PASSWORD": "s3cret",
        "SMTP_STARTTLS": True,
        "SMTP_TIMEOUT": 12,
        "MAIL_SENDER": "Privacy desk <privacy@desk.example>",
    }

    settings = SmtpSettings.from_config(config)

    assert settings == SmtpSettings(
        host="smtp.desk.example",
        port=2525,
        username="desk",
        password="s3cret",
        starttls=True,
        ssl=False,
        timeout=12.0,
        sender="Privacy desk <privacy@desk.example>",
    )
    assert "s3cret" not in repr(settings)


def test_settings_are_read_from_prefixed_environment_strings() -> None:
    environ = {"DSR_SMTP_HOST": "mail.example", "DSR_SMTP_SSL": "true", "DSR_SMTP_TIMEOUT": "2.5"}

    settings = SmtpSettings.from_config(environ)

    assert (settings.host, settings.port, settings.ssl, settings.starttls) == (
        "mail.example",
        465,
        True,
        False,
    )
    assert settings.timeout == 2.5


def test_settings_default_to_a_local_server() -> None:
    assert SmtpSettings.from_config({}) == SmtpSettings()
    assert SmtpSettings.from_config({"SMTP_STARTTLS": "yes"}).port == 587


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT"),
        ({"SMTP_PORT": 70000}, "SMTP_PORT"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
        ({"SMTP_STARTTLS": True, "SMTP_SSL": True}, "choose one"),
        ({"SMTP_TIMEOUT": "0"}, "SMTP_TIMEOUT"),
        ({"SMTP_USERNAME": "desk"}, "SMTP_PASSWORD"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(
    config: dict[str, object], complaint: str
) -> None:
    with pytest.raises(SmtpSettingsError, match=complaint):
        SmtpSettings.from_config(config)


# -- retry schedule --------------------------------------------------------------------------


def test_the_retry_delay_doubles_from_one_minute_up_to_six_hours() -> None:
    delays = [next_attempt_delay(attempts) for attempts in range(1, 13)]

    assert delays == [
        timedelta(minutes=minutes) for minutes in (1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360)
    ]
    assert next_attempt_delay(10_000) == timedelta(hours=6)


def test_the_last_attempt_comes_more_than_a_day_after_the_first() -> None:
    waits = [next_attempt_delay(attempts) for attempts in range(1, MAX_ATTEMPTS)]

    assert sum(waits, timedelta()) > timedelta(hours=24)


def test_the_retry_delay_needs_at_least_one_failed_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next_attempt_delay(0)


# -- one connection for several messages (issue 17) ----------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the connections opened to the server."""
    opened: list[int] = []
    connect = smtp._connect

    def counted(*args: object, **kwargs: object) -> object:
        opened.append(1)
        return connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(smtp, "_connect", counted)
    return opened


def test_a_connection_carries_several_messages(
    smtp_server: SmtpServer, connections: list[int]
) -> None:
    with SmtpConnection(settings_for(smtp_server)) as connection:
        for number in range(3):
            connection.send(message_to(to=f"learner{number}@learners.example"))
    mails = smtp_server.wait_for(3)
    assert [mail.envelope_recipients for mail in mails] == [
        (f"learner{number}@learners.example",) for number in range(3)
    ]
    assert len(connections) == 1


def test_a_connection_the_server_closed_is_opened_again(
    smtp_server: SmtpServer, connections: list[int]
) -> None:
    with SmtpConnection(settings_for(smtp_server)) as connection:
        connection.send(message_to())
        smtp_server.stop()
        smtp_server.start()
        connection.send(message_to(to="second@learners.example"))
    assert len(smtp_server.wait_for(2)) == 2
    assert len(connections) == 2


def test_a_refused_message_leaves_the_next_one_a_fresh_connection(
    smtp_server: SmtpServer, connections: list[int]
) -> None:
    smtp_server.refuse_next(1, 550, at="RCPT")
    with SmtpConnection(settings_for(smtp_server)) as connection:
        with pytest.raises(PermanentDeliveryError):
            connection.send(message_to())
        connection.send(message_to(to="second@learners.example"))
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_recipients == ("second@learners.example",)
    assert len(connections) == 2
