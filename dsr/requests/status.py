"""The one door through which a request changes status, and the one way to find it by reference.

`change_status` applies the workflow, stores the new state and writes its audit event together,
in the caller's transaction: nothing else pairs `workflow.apply`, `store_state` and
`append_fact`. It flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlmodel import Session, select

from dsr.audit.models import append_fact
from dsr.requests.extension_grounds import ExtensionGround
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, Action, Actor, AuditFact, apply


def normalize_reference(reference: str) -> str:
    """Return a reference as it is stored, from one as people type it (spaces, lower case)."""
    return reference.strip().upper()


def get_by_reference(db_session: Session, reference: str) -> DataRequest | None:
    """Return the request with `reference`, as people type it, or None."""
    return db_session.exec(
        select(DataRequest).where(DataRequest.reference == normalize_reference(reference))
    ).one_or_none()


def change_status(
    *,
    db_session: Session,
    request: DataRequest,
    action: Action,
    actor: Actor,
    at: datetime,
    reason: str | None = None,
    months: int | None = None,
    ground: ExtensionGround | str | None = None,
    actor_label: str | None = None,
    details: Mapping[str, object] | None = None,
    also: Callable[[AuditFact], None] | None = None,
) -> AuditFact:
    """Take `action` on `request`: apply the workflow, store the new state, flush, and record the
    audit event, in the caller's transaction; return the audited fact.

    `also` makes the other changes the step brings, once the workflow allows it and before the
    state is stored; it may refuse by raising. A refusal (`WorkflowError`, or what `also` raises)
    leaves the request as it was and writes nothing. A concurrent change of the request makes
    the flush raise `StaleDataError`, before any event is written.
    """
    transition = apply(
        request.state, action, actor=actor, at=at, reason=reason, months=months, ground=ground
    )
    if also is not None:
        also(transition.fact)
    request.store_state(transition.state)
    db_session.flush()
    append_fact(
        db_session=db_session,
        request=request,
        fact=transition.fact,
        actor_label=actor_label,
        details=details,
    )
    if request.status in TERMINAL:  # R46: no copy of an identity document outlives its use
        from dsr.requests.identity_check import forget_unchecked_identity_documents

        forget_unchecked_identity_documents(db_session, request, at)
    return transition.fact
