"""Status callbacks: every status change of an API request is POSTed, signed, to the client's URLs.

Whatever changes the status (the API, the learner's status page, staff, a job), a flush listener
queues one `CallbackDelivery` per URL in the same transaction, so a delivery exists if and only if
the change was committed. `deliver_due_callbacks` then sends them outside any transaction, with
the outbox's lease and retry schedule; the last failure is logged as an error, never dropped
silently. Bodies hold the request's reference and statuses only: no personal data.

Callbacks reach public addresses only, and the internal networks the organisation allows
(`DSR_CALLBACK_ALLOWED_NETWORKS`): checked on the URL when it is registered, and again on every
address its host resolves to when a callback is sent, the connection going to the address just
checked (see `callback_addresses`); a refused address fails the delivery for good.

Each POST carries `X-DSR-Timestamp` (Unix seconds) and `X-DSR-Signature: sha256=<hex>`, the
HMAC-SHA256 of `<timestamp>.<body>` under the client's secret (`callback_secret`), so a receiver
can check both the body and its freshness.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event, inspect, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from dsr.api.callback_addresses import (
    ALLOWED_NETWORKS_SETTING,
    InvalidHost,
    IPAddress,
    IPNetwork,
    internal_kind,
    is_allowed,
    read_host,
)
from dsr.api.models import (
    CALLBACK_URL_MAX,
    LAST_ERROR_MAX,
    CallbackDelivery,
    CallbackDeliveryStatus,
    StatusCallback,
)
from dsr.db import claim_row, open_session, table_of, utcnow
from dsr.outbox.smtp import MAX_ATTEMPTS, next_attempt_delay
from dsr.requests.models import Channel, DataRequest
from dsr.requests.status import normalize_reference
from dsr.worker.enqueue import Lane, deliver_after_commit

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DSR-Signature"
TIMESTAMP_HEADER = "X-DSR-Timestamp"
EVENT_HEADER = "X-DSR-Event-Id"
EVENT_TYPE = "request.status_changed"
MAX_CALLBACK_URLS = 3
DEFAULT_TIMEOUT_SECONDS = 5.0
LEASE = timedelta(minutes=5)
_SECRET_SALT = b"dsr-status-callback-secret:"

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


def check_callback_url(url: str, *, allowed_networks: Sequence[IPNetwork] = ()) -> str:
    """Return `url` if it may receive callbacks: https (or http to the `allowed_networks` only)
    with a host that is no internal address in any spelling, unless one of `allowed_networks`;
    no credentials nor fragment. Raise ValueError, saying why.

    A host name is not resolved here: its addresses are checked each time a callback is sent.
    """
    if len(url) > CALLBACK_URL_MAX:
        raise ValueError(f"a callback URL has at most {CALLBACK_URL_MAX} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("a callback URL is ASCII without spaces (percent-encode the rest)")
    if "\\" in url:
        raise ValueError("a callback URL has no backslash (percent-encode it)")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 (an invalid port raises ValueError here)
    except ValueError:
        raise ValueError("this is not a valid URL") from None
    if parts.scheme not in ("https", "http"):
        raise ValueError("a callback URL uses https")
    if not hostname:
        raise ValueError("a callback URL names a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a callback URL carries no credentials")
    if parts.fragment:
        raise ValueError("a callback URL has no fragment")
    try:
        host = read_host(hostname)
    except InvalidHost as error:
        raise ValueError(str(error)) from None
    for address in host.addresses:
        kind = internal_kind(address, allowed_networks)
        if kind is not None:
            raise ValueError(
                f"a callback URL may not reach this {kind} address (the desk calls internal "
                "networks only when its configuration allows them)"
            )
    if parts.scheme == "http" and not (
        all(is_allowed(address, allowed_networks) for address in host.addresses)
        if host.addresses
        else allowed_networks
    ):
        raise ValueError(
            "a callback URL uses https (plain http only to the internal networks the desk allows)"
        )
    return url


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

Resolve = Callable[[str, int], Sequence[IPAddress]]
"""Return the addresses of a host name and port (the system's resolver by default; tests give
their own to make a name resolve where they want)."""


class CallbackFailed(Exception):
    """A delivery that did not get a 2xx answer; `reason` names the kind of failure only.

    A `permanent` failure (the address is refused) is not retried: trying again cannot help.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Return every address the system's resolver gives for `host` (TCP), in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def vetted_addresses(
    url: str, *, allowed_networks: Sequence[IPNetwork], resolve: Resolve
) -> list[IPAddress]:
    """Return the addresses to connect to for `url`: every address its host stands for or
    resolves to, each checked; raise a permanent `CallbackFailed` when one is internal and not
    allowed (or plain http leaves the allowed networks), a transient one when it does not
    resolve. The reason names the kind of address, never the address."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CallbackFailed("refused: not an http(s) URL with a host", permanent=True)
    try:
        host = read_host(parts.hostname)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise CallbackFailed("refused: not a valid host", permanent=True) from None
    addresses = list(host.addresses)
    if host.needs_resolving:
        try:
            addresses = list(resolve(host.name, port))
        except (OSError, UnicodeError):
            raise CallbackFailed("the host name does not resolve") from None
        if not addresses:
            raise CallbackFailed("the host name does not resolve")
    for address in addresses:
        kind = internal_kind(address, allowed_networks)
        if kind is not None:
            raise CallbackFailed(
                f"refused: {kind} address, outside {ALLOWED_NETWORKS_SETTING}",
                permanent=True,
            )
    if parts.scheme == "http" and not all(
        is_allowed(address, allowed_networks) for address in addresses
    ):
        raise CallbackFailed(
            f"refused: plain http to an address outside {ALLOWED_NETWORKS_SETTING} (use https)",
            permanent=True,
        )
    return addresses


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP to `host` (its Host header) over a connection to one of the vetted `addresses`:
    the name is never resolved again between the check and the connection."""

    def __init__(
        self, host: str, port: int, *, addresses: Sequence[IPAddress], timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = tuple(addresses)

    def connect(self) -> None:
        failure: OSError | None = None
        for address in self._addresses:
            try:
                self.sock = socket.create_connection((str(address), self.port), self.timeout)
            except OSError as error:
                failure = error
                continue
            return
        raise failure or OSError("no address to connect to")


class _PinnedTLSConnection(_PinnedConnection):
    """HTTPS over a connection to a vetted address, with SNI and the certificate checked
    against the URL's host name."""

    default_port = http.client.HTTPS_PORT

    def __init__(
        self,
        host: str,
        port: int,
        *,
        addresses: Sequence[IPAddress],
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    *,
    allowed_networks: Sequence[IPNetwork] = (),
    resolve: Resolve = resolve_host,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    """POST `body` to `url`, connecting only to addresses checked just before (see
    `vetted_addresses`); a redirect is a failure, so a signed body goes to the registered URL
    only."""
    addresses = vetted_addresses(url, allowed_networks=allowed_networks, resolve=resolve)
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: _PinnedConnection
    if parts.scheme == "https":
        connection = _PinnedTLSConnection(
            host,
            parts.port or http.client.HTTPS_PORT,
            addresses=addresses,
            timeout=timeout,
            context=tls_context or ssl.create_default_context(),
        )
    else:
        connection = _PinnedConnection(
            host, parts.port or http.client.HTTP_PORT, addresses=addresses, timeout=timeout
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        with connection.getresponse() as response:
            status = response.status
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise CallbackFailed(type(error).__name__) from None
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise CallbackFailed(f"HTTP {status}")


def deliver_due_callbacks(
    *,
    engine: Engine,
    secret_key: str,
    now: datetime,
    limit: int = 50,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    allowed_networks: Sequence[IPNetwork] = (),
    resolve: Resolve = resolve_host,
    post: Post | None = None,
) -> CallbackReport:
    """Send up to `limit` due callbacks, oldest first, each claimed and recorded in its own short
    transaction; one failing receiver never stops the others.

    Each is sent by `post`, by default `post_json` to addresses outside `allowed_networks`
    only when public, found with `resolve` at the moment of sending."""
    started = time.monotonic()
    send: Post = post or functools.partial(
        post_json, allowed_networks=tuple(allowed_networks), resolve=resolve
    )

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
            send(claimed.url, body, headers, timeout)
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
    elif error.permanent or attempts >= MAX_ATTEMPTS:
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
            .where(DataRequest.reference == normalize_reference(reference))
            .order_by(col(CallbackDelivery.id))
        ).all()
    )
