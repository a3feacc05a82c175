"""Status callbacks: every status change of an API request is POSTed, signed, to the client's URLs.

Whatever changes the status (the API, the learner's status page, staff, a job), a flush listener
queues one `CallbackDelivery` per URL in the same transaction, so a delivery exists if and only if
the change was committed. `deliver_due_callbacks` then sends them outside any transaction, with
the outbox's lease and retry schedule; the last failure is logged as an error, never dropped
silently. Bodies hold the request's reference and statuses only: no personal data.

Each POST carries `X-DSR-Timestamp` (Unix seconds) and `X-DSR-Signature: sha256=<hex>`, the
HMAC-SHA256 of `<timestamp>.<body>` under the client's secret (`callback_secret`), so a receiver
can check both the body and its freshness.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event, inspect, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from dsr.api.models import (
    CALLBACK_URL_MAX,
    LAST_ERROR_MAX,
    CallbackDelivery,
    CallbackDeliveryStatus,
    StatusCallback,
)
from dsr.background import Lane, deliver_after_commit
from dsr.db import claim_row, open_session, table_of, utcnow
from dsr.outbox.smtp import MAX_ATTEMPTS, next_attempt_delay
from dsr.requests.models import Channel, DataRequest

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DSR-Signature"
TIMESTAMP_HEADER = "X-DSR-Timestamp"
EVENT_HEADER = "X-DSR-Event-Id"
EVENT_TYPE = "request.status_changed"
MAX_CALLBACK_URLS = 3
DEFAULT_TIMEOUT_SECONDS = 5.0
LEASE = timedelta(minutes=5)
_SECRET_SALT = b"dsr-status-callback-secret:"

CALLBACK_SETTINGS: Mapping[str, Any] = {
    "API_CALLBACK_ALLOW_LOOPBACK": False,  # http://127.0.0.1 callbacks; always allowed in tests
    "API_CALLBACK_TIMEOUT_SECONDS": DEFAULT_TIMEOUT_SECONDS,
}
"""Settings of the status callbacks and their defaults (each can be set as DSR_<NAME>)."""


# --- secrets, signatures and URLs -----------------------------------------------------------


def callback_secret(secret_key: str, api_client_id: int) -> str:
    """Return the secret that signs a client's callbacks, derived from the app's SECRET_KEY and
    the client's token id: it changes with SECRET_KEY; the client reads it at GET /api/v1/client."""
    if not secret_key:
        raise ValueError("signing callbacks needs a secret key")
    message = _SECRET_SALT + str(api_client_id).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the `X-DSR-Signature` value of `body` sent at `timestamp`: `sha256=<hex>`."""
    signed = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_is_valid(secret: str, timestamp: str, body: bytes, received: str) -> bool:
    """Tell whether `received` is the signature of `body` at `timestamp` (for receivers)."""
    return hmac.compare_digest(signature(secret, timestamp, body), received)


def check_callback_url(url: str, *, allow_loopback: bool) -> str:
    """Return `url` if it may receive callbacks: https with a host, no credentials nor fragment;
    http only to a loopback address when `allow_loopback`. Raise ValueError, saying why."""
    if len(url) > CALLBACK_URL_MAX:
        raise ValueError(f"a callback URL has at most {CALLBACK_URL_MAX} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("a callback URL is ASCII without spaces (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (an invalid port raises ValueError here)
    except ValueError:
        raise ValueError("this is not a valid URL") from None
    if not host:
        raise ValueError("a callback URL names a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a callback URL carries no credentials")
    if parts.fragment:
        raise ValueError("a callback URL has no fragment")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_loopback and _is_loopback(host):
        return url
    if parts.scheme == "http" and _is_loopback(host):
        raise ValueError("a callback URL uses https (http to loopback is for tests only)")
    raise ValueError("a callback URL uses https")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- queuing: a flush listener on every session ---------------------------------------------


@event.listens_for(OrmSession, "before_flush")
def _queue_status_callbacks(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Queue a delivery per callback URL for each API request whose status this flush changes."""
    changed = [
        (request, history.deleted[0])
        for request in session.dirty
        if isinstance(request, DataRequest)
        and request.created_via is Channel.API
        and request.id is not None
        and (history := inspect(request).attrs.status.history).deleted
        and history.added
        and history.deleted[0] != request.status
    ]
    if not changed:
        return
    now = utcnow()
    queued = False
    with session.no_autoflush:
        for request, previous in changed:
            callbacks = session.scalars(
                select(StatusCallback)
                .where(StatusCallback.request_id == request.id)
                .order_by(col(StatusCallback.position))
            ).all()
            if not callbacks:
                continue
            event_id = secrets.token_hex(16)
            body = _event_body(request, event_id=event_id, previous_status=str(previous), at=now)
            for callback in callbacks:
                if callback.id is None:
                    continue  # added in this very flush: it cannot have seen a change yet
                session.add(
                    CallbackDelivery(
                        callback_id=callback.id,
                        event_id=event_id,
                        body=body,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                queued = True
    if queued:
        deliver_after_commit(session, Lane.CALLBACKS)


def _event_body(request: DataRequest, *, event_id: str, previous_status: str, at: datetime) -> str:
    """Return the JSON body announcing the request's new status (signed exactly as returned)."""
    document = {
        "event_id": event_id,
        "event_type": EVENT_TYPE,
        "occurred_at": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "request": {
            "reference": request.reference,
            "subject_request_type": request.type.value,
            "status": request.status.value,
            "previous_status": previous_status,
            "due_at": request.due_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        },
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


# --- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackReport:
    """What one delivery run did: callbacks sent, rescheduled, and given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    url: str
    api_client_id: int
    event_id: str
    body: str
    attempts: int


Post = Callable[[str, bytes, Mapping[str, str], float], None]
"""Send one POST; raise `CallbackFailed` unless the receiver answered 2xx."""


class CallbackFailed(Exception):
    """A delivery that did not get a 2xx answer; `reason` names the kind of failure only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: a signed body is never sent anywhere but the registered URL."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    """POST `body` to `url` (https, or loopback http: checked when the URL was registered)."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise CallbackFailed("not an http(s) URL")
    outgoing = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 (scheme checked above)
    try:
        with _opener.open(outgoing, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        error.close()  # an HTTPError is also the response: it holds the connection open
        raise CallbackFailed(f"HTTP {error.code}") from None
    except (OSError, ValueError) as error:
        raise CallbackFailed(type(error).__name__) from None
    if not 200 <= status < 300:
        raise CallbackFailed(f"HTTP {status}")


def deliver_due_callbacks(
    *,
    engine: Engine,
    secret_key: str,
    now: datetime,
    limit: int = 50,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    post: Post = post_json,
) -> CallbackReport:
    """Send up to `limit` due callbacks, oldest first, each claimed and recorded in its own short
    transaction; one failing receiver never stops the others."""
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    tried: list[int] = []
    sent = retried = failed = 0
    while len(tried) < limit:
        claimed = _claim_next(engine, at=clock(), skip=tried)
        if claimed is None:
            break
        tried.append(claimed.id)
        sent_at = clock()
        timestamp = str(int(sent_at.timestamp()))
        body = claimed.body.encode()
        secret = callback_secret(secret_key, claimed.api_client_id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "privacy-desk-callbacks/1",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, body),
            EVENT_HEADER: claimed.event_id,
        }
        error: CallbackFailed | None = None
        try:
            post(claimed.url, body, headers, timeout)
        except CallbackFailed as failure:
            error = failure
        except Exception as unexpected:  # one broken receiver must not stop the others
            error = CallbackFailed(f"unexpected {type(unexpected).__name__}")
        outcome = _record(engine, claimed, error, at=clock())
        if outcome is CallbackDeliveryStatus.SENT:
            sent += 1
        elif outcome is CallbackDeliveryStatus.PENDING:
            retried += 1
        else:
            failed += 1
    return CallbackReport(sent=sent, retried=retried, failed=failed)


def _claim_next(engine: Engine, *, at: datetime, skip: list[int]) -> _Claimed | None:
    """Take the lease of the oldest due delivery nobody holds (a conditional UPDATE, so that of
    two senders only one gets it); None when there is none left."""
    deliveries = table_of(CallbackDelivery)
    free = or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= at)
    with open_session(engine) as session:
        while True:
            row = session.exec(
                select(CallbackDelivery, StatusCallback.url, DataRequest.api_client_id)
                .join(StatusCallback, col(StatusCallback.id) == CallbackDelivery.callback_id)
                .join(DataRequest, col(DataRequest.id) == StatusCallback.request_id)
                .where(
                    CallbackDelivery.status == CallbackDeliveryStatus.PENDING,
                    col(CallbackDelivery.next_attempt_at) <= at,
                    or_(
                        col(CallbackDelivery.claimed_until).is_(None),
                        col(CallbackDelivery.claimed_until) <= at,
                    ),
                    col(CallbackDelivery.id).not_in(skip),
                )
                .order_by(col(CallbackDelivery.next_attempt_at), col(CallbackDelivery.id))
                .limit(1)
            ).one_or_none()
            if row is None:
                session.rollback()
                return None
            delivery, url, api_client_id = row
            if delivery.id is None or api_client_id is None:
                raise RuntimeError("a queued callback has no id or no API client")
            claimed = _Claimed(
                id=delivery.id,
                url=url,
                api_client_id=api_client_id,
                event_id=delivery.event_id,
                body=delivery.body,
                attempts=delivery.attempts,
            )
            if claim_row(
                session,
                deliveries,
                claimed.id,
                pending=CallbackDeliveryStatus.PENDING,
                free=free,
                until=at + LEASE,
            ):
                return claimed
            session.expunge_all()  # another sender took it: look again


def _record(
    engine: Engine, claimed: _Claimed, error: CallbackFailed | None, *, at: datetime
) -> CallbackDeliveryStatus:
    """Write down the outcome of one attempt and release the claim; return the new status."""
    attempts = claimed.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "claimed_until": None}
    if error is None:
        status = CallbackDeliveryStatus.SENT
        values.update(status=status, sent_at=at, last_error=None)
        log.info("status callback %d sent (attempt %d)", claimed.id, attempts)
    elif attempts >= MAX_ATTEMPTS:
        status = CallbackDeliveryStatus.FAILED
        values.update(status=status, last_error=error.reason[:LAST_ERROR_MAX])
        log.error(
            "status callback %d failed for good after %d attempts: %s",
            claimed.id,
            attempts,
            error.reason,
        )
    else:
        status = CallbackDeliveryStatus.PENDING
        retry_at = at + next_attempt_delay(attempts)
        values.update(next_attempt_at=retry_at, last_error=error.reason[:LAST_ERROR_MAX])
        log.warning(
            "status callback %d not delivered (attempt %d): %s; next attempt at %s",
            claimed.id,
            attempts,
            error.reason,
            retry_at.isoformat(timespec="seconds"),
        )
    deliveries = table_of(CallbackDelivery)
    with open_session(engine) as session:
        session.execute(update(deliveries).where(deliveries.c.id == claimed.id).values(**values))
        session.commit()
    return status


def queued_for(db_session: Session, reference: str) -> list[CallbackDelivery]:
    """Return the deliveries queued for the request `reference`, oldest first (for tests and
    support)."""
    return list(
        db_session.exec(
            select(CallbackDelivery)
            .join(StatusCallback, col(StatusCallback.id) == CallbackDelivery.callback_id)
            .join(DataRequest, col(DataRequest.id) == StatusCallback.request_id)
            .where(DataRequest.reference == reference)
            .order_by(col(CallbackDelivery.id))
        ).all()
    )
