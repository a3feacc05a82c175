"""Builders of the desk's own data for the tests: a request in any status with the state a
request there has, and the same request read back from the store.

Tests build their requests here rather than copying a `DataRequest(...)` call; a folder that
wants other defaults binds them in a fixture (tests/store, tests/scheduler).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsr import db
from dsr.addresses import normalize_email
from dsr.audit.models import record_action
from dsr.languages import Language
from dsr.requests.models import DataRequest, next_reference
from dsr.requests.status import change_status, get_by_reference
from dsr.requests.workflow import Action, Actor, RequestState, RequestType, Status
from inventory.model import DEFAULT_TIMEZONE

RECEIVED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EMAIL = "Zoe.Lefevre@Example.org"


def make_request(
    session_or_engine: Session | Engine,
    *,
    status: Status = Status.VERIFIED,
    received_at: datetime = RECEIVED_AT,
    email: str = EMAIL,
    request_type: RequestType = RequestType.ACCESS,
    language: Language = Language.EN,
    paused_since: datetime | None = None,
    audited: bool = True,
    time_zone: str = DEFAULT_TIMEZONE,
    **fields: Any,
) -> DataRequest:
    """Add a request in `status`, with the state a request there has (verified an hour after
    receipt past `received`, paused two days after receipt while awaiting the requester) and,
    when `audited`, the requester's event of its filing; its deadline is counted on the calendar
    of `time_zone`. `fields` set any other column or
    replace a derived one (`verified_at`, `due_at`). With a session it is flushed; with an
    engine, committed."""
    if isinstance(session_or_engine, Engine):
        with db.transaction(session_or_engine) as session:
            return make_request(
                session,
                status=status,
                received_at=received_at,
                email=email,
                request_type=request_type,
                language=language,
                paused_since=paused_since,
                audited=audited,
                time_zone=time_zone,
                **fields,
            )
    session = session_or_engine
    if status is not Status.AWAITING_REQUESTER:
        paused_since = None
    elif paused_since is None:
        paused_since = received_at + timedelta(days=2)
    state = RequestState(
        status=status, received_at=received_at, paused_since=paused_since, zone=ZoneInfo(time_zone)
    )
    verified = status not in (Status.RECEIVED, Status.EXPIRED)
    columns: dict[str, Any] = {
        "type": request_type,
        "requester_email": email,
        "normalized_email": normalize_email(email),
        "language": language,
        "status": status,
        "received_at": received_at,
        "verified_at": received_at + timedelta(hours=1) if verified else None,
        "due_at": state.due_at,
        "time_zone": time_zone,
        "paused_since": paused_since,
        **fields,
    }
    request = DataRequest(
        reference=next_reference(db_session=session, received_at=received_at), **columns
    )
    session.add(request)
    session.flush()
    if audited:
        record_action(
            db_session=session,
            request=request,
            actor=Actor.REQUESTER,
            action="submitted",
            at=received_at,
            to_status=Status.RECEIVED,
        )
    return request


def reloaded(engine: Engine, request_id: int | None) -> DataRequest:
    """Read the request back from the store, as another transaction sees it now."""
    with db.open_session(engine) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        return request


def staff_moves(engine: Engine, reference: str, *actions: Action, actor_label: str = "dpo") -> None:
    """Move the request `reference` on as staff would, each step through the desk's one door
    (`change_status`: applied, stored and audited), in one committed transaction."""
    with db.transaction(engine) as session:
        request = get_by_reference(session, reference)
        assert request is not None, f"no request {reference}"
        for action in actions:
            change_status(
                db_session=session,
                request=request,
                action=action,
                actor=Actor.STAFF,
                at=db.utcnow(),
                actor_label=actor_label,
            )
