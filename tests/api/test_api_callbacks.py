"""Status callbacks: signed POSTs to a real HTTP server on loopback, queued with the change that
causes them, sent after commit and retried until delivered (or failed for good, loudly)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlmodel import select

from dsr import db
from dsr.api.callback_addresses import parse_allowed_networks
from dsr.api.callbacks import (
    CallbackFailed,
    callback_secret,
    check_callback_url,
    deliver_due_callbacks,
    queued_for,
    signature_is_valid,
)
from dsr.api.models import CallbackDelivery, CallbackDeliveryStatus
from dsr.outbox.smtp import MAX_ATTEMPTS
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Actor, apply
from tests.api.conftest import (
    SECRET_KEY,
    ApiCaller,
    CallbackReceiver,
    ReceivedCallback,
    new_request,
)
from tests.factories import staff_moves
from tests.smtp_server import settle_background_work

on_sqlite_and_postgresql = pytest.mark.databases("sqlite", "postgresql")

LOOPBACK = "127.0.0.0/8"
"""The receiver listens on loopback, an internal network: each test allows it explicitly."""
LOOPBACK_NETWORKS = parse_allowed_networks(LOOPBACK)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The API's settings, allowed to call back the loopback receiver."""
    return {**app_config, "CALLBACK_ALLOWED_NETWORKS": LOOPBACK}


def verified(callback: ReceivedCallback, secret: str) -> dict[str, object]:
    """Check the callback's signature as a receiver would, with the standard library only."""
    timestamp = callback.headers["x-dsr-timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + callback.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(callback.headers["x-dsr-signature"], f"sha256={expected}")
    assert callback.headers["content-type"] == "application/json"
    document = json.loads(callback.body)
    assert isinstance(document, dict)
    assert callback.headers["x-dsr-event-id"] == document["event_id"]
    return document


def deliveries(app: Flask, reference: str) -> list[CallbackDelivery]:
    settle_background_work()  # the deliveries tried after the commit have recorded their outcome
    with db.open_session(db.get_engine(app)) as session:
        return queued_for(session, reference)


@on_sqlite_and_postgresql
def test_a_cancellation_is_called_back_signed_to_every_url(
    app: Flask, platform: ApiCaller, callback_receiver: CallbackReceiver
) -> None:
    urls = [callback_receiver.url("/first"), callback_receiver.url("/second")]
    created = platform.post(new_request(status_callback_urls=urls))
    assert created.status_code == 201
    assert created.get_json()["status_callback_urls"] == urls
    reference = created.get_json()["reference"]
    assert deliveries(app, reference) == []  # filing is not a change to call back about

    assert platform.delete(created.headers["Location"]).status_code == 200

    received = callback_receiver.wait_for(2)
    assert sorted(callback.path for callback in received) == ["/first", "/second"]
    secret = platform.get("/api/v1/client").get_json()["status_callback_secret"]
    documents = [verified(callback, secret) for callback in received]
    assert documents[0] == documents[1]  # one event, told to each URL
    event = documents[0]
    assert event["event_type"] == "request.status_changed"
    assert event["request"] == {
        "reference": reference,
        "subject_request_type": "access",
        "status": "cancelled",
        "previous_status": "verified",
        "due_at": event["request"]["due_at"],  # type: ignore[index]
    }
    assert "zoe" not in received[0].body.decode()  # no personal data
    assert {d.status for d in deliveries(app, reference)} == {CallbackDeliveryStatus.SENT}

    tampered = received[0].body.replace(b"cancelled", b"completed")
    timestamp = received[0].headers["x-dsr-timestamp"]
    assert not signature_is_valid(
        secret, timestamp, tampered, received[0].headers["x-dsr-signature"]
    )
    other = callback_secret(SECRET_KEY, 999)
    assert not signature_is_valid(
        other, timestamp, received[0].body, received[0].headers["x-dsr-signature"]
    )


@on_sqlite_and_postgresql
def test_staff_changes_are_queued_and_retried_until_delivered(
    app: Flask, platform: ApiCaller, callback_receiver: CallbackReceiver
) -> None:
    created = platform.post(new_request(status_callback_urls=[callback_receiver.url()]))
    reference = created.get_json()["reference"]
    callback_receiver.failures = 1

    staff_moves(db.get_engine(app), reference, Action.START_REVIEW)  # no app here: queued, not sent
    (queued,) = deliveries(app, reference)
    assert queued.status is CallbackDeliveryStatus.PENDING and queued.attempts == 0
    engine = db.get_engine(app)

    now = db.utcnow()
    first = deliver_due_callbacks(
        engine=engine, secret_key=SECRET_KEY, now=now, allowed_networks=LOOPBACK_NETWORKS
    )
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    (retried,) = deliveries(app, reference)
    assert retried.status is CallbackDeliveryStatus.PENDING
    assert retried.last_error == "HTTP 500"
    assert retried.next_attempt_at > now
    early = deliver_due_callbacks(
        engine=engine, secret_key=SECRET_KEY, now=now, allowed_networks=LOOPBACK_NETWORKS
    )
    assert (early.sent, early.retried) == (0, 0)  # not due yet

    later = deliver_due_callbacks(
        engine=engine,
        secret_key=SECRET_KEY,
        now=now + timedelta(minutes=2),
        allowed_networks=LOOPBACK_NETWORKS,
    )
    assert later.sent == 1
    (callback,) = callback_receiver.wait_for(1)
    secret = callback_secret(SECRET_KEY, retried_client_id(app, reference))
    event = verified(callback, secret)
    assert event["request"]["status"] == "in_review"  # type: ignore[index]
    assert event["request"]["previous_status"] == "verified"  # type: ignore[index]
    (sent,) = deliveries(app, reference)
    assert sent.status is CallbackDeliveryStatus.SENT and sent.attempts == 2
    again = deliver_due_callbacks(
        engine=engine,
        secret_key=SECRET_KEY,
        now=now + timedelta(hours=1),
        allowed_networks=LOOPBACK_NETWORKS,
    )
    assert again.sent == 0  # delivered once only


def retried_client_id(app: Flask, reference: str) -> int:
    with db.open_session(db.get_engine(app)) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
    assert request.api_client_id is not None
    return request.api_client_id


@on_sqlite_and_postgresql
def test_a_rolled_back_change_queues_nothing(
    app: Flask, platform: ApiCaller, callback_receiver: CallbackReceiver
) -> None:
    created = platform.post(new_request(status_callback_urls=[callback_receiver.url()]))
    reference = created.get_json()["reference"]
    with pytest.raises(RuntimeError), db.transaction(db.get_engine(app)) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
        transition = apply(request.state, Action.START_REVIEW, actor=Actor.STAFF, at=db.utcnow())
        request.store_state(transition.state)
        session.flush()
        raise RuntimeError("the transaction fails after the flush")
    assert deliveries(app, reference) == []


@on_sqlite_and_postgresql
def test_the_last_failure_is_logged_not_lost(
    app: Flask,
    platform: ApiCaller,
    callback_receiver: CallbackReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = platform.post(new_request(status_callback_urls=[callback_receiver.url()]))
    reference = created.get_json()["reference"]
    staff_moves(db.get_engine(app), reference, Action.START_REVIEW)
    with db.transaction(db.get_engine(app)) as session:
        (delivery,) = queued_for(session, reference)
        delivery.attempts = MAX_ATTEMPTS - 1

    def refuse(*_args: object) -> None:
        raise CallbackFailed("HTTP 503")

    with caplog.at_level(logging.ERROR, logger="dsr.api.callbacks"):
        report = deliver_due_callbacks(
            engine=db.get_engine(app), secret_key=SECRET_KEY, now=db.utcnow(), post=refuse
        )
    assert report.failed == 1
    (failed,) = deliveries(app, reference)
    assert failed.status is CallbackDeliveryStatus.FAILED and failed.last_error == "HTTP 503"
    assert "failed for good" in caplog.text


@on_sqlite_and_postgresql
def test_a_receiver_that_is_down_is_retried_later(
    app: Flask, platform: ApiCaller, callback_receiver: CallbackReceiver
) -> None:
    closed = callback_receiver.url().replace(str(callback_receiver.server.server_address[1]), "1")
    created = platform.post(new_request(status_callback_urls=[closed]))
    assert platform.delete(created.headers["Location"]).status_code == 200
    (pending,) = deliveries(app, created.get_json()["reference"])
    assert pending.status is CallbackDeliveryStatus.PENDING
    assert pending.attempts == 1 and pending.last_error


@pytest.mark.parametrize(
    ("url", "allowed", "accepted"),
    [
        ("https://platform.example/hooks/dsr", "", True),
        ("https://platform.example:8443/h?x=1", "", True),
        ("https://93.184.215.14/h", "", True),
        ("https://[2606:4700::1111]/h", "", True),
        ("http://platform.example/h", "", False),
        ("http://93.184.215.14/h", LOOPBACK, False),
        ("http://platform.internal/h", "10.0.0.0/8", True),  # its addresses: checked when sent
        ("http://127.0.0.1:9000/h", LOOPBACK, True),
        ("http://[::1]:9000/h", "::1/128", True),
        ("http://localhost/h", "127.0.0.0/8,::1/128", True),
        ("http://localhost/h", LOOPBACK, False),  # localhost is ::1 too
        ("https://10.1.2.3/h", "10.0.0.0/8", True),
        ("https://10.1.2.3/h", LOOPBACK, False),
        ("http://127.0.0.1:9000/h", "", False),
        ("ftp://platform.example/h", "", False),
        ("https:///nohost", "", False),
        ("https://platform.example/h#frag", "", False),
        ("https://platform.example/" + "x" * 2048, "", False),
        ("https://platform.example/a b", "", False),
    ],
)
def test_callback_urls(url: str, allowed: str, accepted: bool) -> None:
    networks = parse_allowed_networks(allowed)
    if accepted:
        assert check_callback_url(url, allowed_networks=networks) == url
    else:
        with pytest.raises(ValueError):
            check_callback_url(url, allowed_networks=networks)


@pytest.mark.databases("sqlite")
def test_after_commit_waits_for_the_outer_commit_not_a_savepoint(store: object) -> None:
    """A savepoint's release fires SQLAlchemy's after_commit event too: tasks must wait for the
    real commit (a status change flushed before an email is queued in a savepoint)."""
    from sqlalchemy import Engine

    assert isinstance(store, Engine)
    ran: list[str] = []
    with db.transaction(store) as session:
        db.after_commit(session, lambda: ran.append("after commit"))
        with session.begin_nested():
            pass
        assert ran == []
    assert ran == ["after commit"]


@on_sqlite_and_postgresql
def test_dsr_api_callbacks_send_delivers_what_is_due(
    app: Flask,
    platform: ApiCaller,
    callback_receiver: CallbackReceiver,
    migrated_url: str,
) -> None:
    from click.testing import CliRunner

    from dsr.api.cli import api_group

    created = platform.post(new_request(status_callback_urls=[callback_receiver.url()]))
    reference = created.get_json()["reference"]
    staff_moves(db.get_engine(app), reference, Action.START_REVIEW)  # queued, not sent

    args = ["callbacks", "send", "--database-url", migrated_url]
    env = {"DSR_SECRET_KEY": SECRET_KEY, "DSR_CALLBACK_ALLOWED_NETWORKS": LOOPBACK}
    result = CliRunner().invoke(api_group, args, env=env)
    assert result.exit_code == 0, result.output
    assert "Sent 1, rescheduled 0, failed for good 0." in result.output
    (callback,) = callback_receiver.wait_for(1)
    verified(callback, callback_secret(SECRET_KEY, retried_client_id(app, reference)))

    missing = CliRunner().invoke(api_group, args, env={"DSR_SECRET_KEY": None})
    assert missing.exit_code == 2 and "--secret-key" in missing.output
