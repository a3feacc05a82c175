"""Why a staff operation on a request does nothing: the request changed since the acting person
saw it, or the desk refuses the operation.

Every operation that changes a request names the `version_id` the acting person saw; these
checks turn a concurrent change into `RequestChanged`, so that no action is ever applied twice.
"""

from __future__ import annotations

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from dsr.requests.models import DataRequest
from dsr.requests.workflow import Refusal


class RequestChanged(Exception):
    """Someone else changed the request since the page was shown: nothing was done."""

    message = (
        "This request changed meanwhile (someone else acted on it): nothing was done. Check "
        "its new state below before acting again."
    )

    def __init__(self) -> None:
        super().__init__(self.message)


class OperationRefused(Refusal):
    """An operation the desk refuses; `message` is written for the staff member (its message id,
    translated where it is shown: `said`)."""


class WaitsForAnotherPart(OperationRefused):
    """An erasure or deactivation asked for with a copy of the data (issue 19): it is not approved
    until that copy is produced, so that the copy still holds the data (the view answers 409)."""


def check_version(request: DataRequest, version_id: int | None) -> None:
    """Raise `RequestChanged` unless `request` is still at the version the acting person saw."""
    if version_id is None or request.version_id != version_id:
        raise RequestChanged()


def flush_change(db_session: Session) -> None:
    """Write the request's change; a concurrent transaction that changed it first wins."""
    try:
        db_session.flush()
    except StaleDataError:
        raise RequestChanged() from None
