"""What the web side calls to hand work to the workers: each job is queued only once the
transaction that asked for it commits (nothing for a transaction that rolls back), and the web
request answers without waiting for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session as OrmSession

from dsr.config import setting_on
from dsr.db import after_commit
from dsr.sealing import SecretBox
from dsr.worker.queue import enqueue_job, queue_for

if TYPE_CHECKING:  # accounts and the outbox queue jobs without loading the requests' package
    from dsr.requests.models import DataRequest


class Lane(StrEnum):
    """What a delivery job delivers: the outbox's emails or the API's status callbacks."""

    MAIL = "mail"
    CALLBACKS = "callbacks"


_DELIVERY_JOBS = {Lane.MAIL: "deliver_mail", Lane.CALLBACKS: "deliver_callbacks"}
_ARGUMENT_PURPOSE = b"dsr.worker.job-argument"


def argument_box(config: Mapping[str, Any]) -> SecretBox:
    """The box of the personal data a job carries (an address to look up): sealed by the web
    side with the desk's SECRET_KEY, opened by the worker with the same setting, so the queue's
    storage (its SQLite file, Redis) never holds it in clear."""
    return SecretBox(str(config["SECRET_KEY"]), _ARGUMENT_PURPOSE)


def _app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def enqueue_now(job: str, *args: object) -> None:
    """Queue the job `job` of dsr.worker.tasks for the workers of the current application."""
    app = _app()
    enqueue_job(queue_for(app.config, app.instance_path), job, *args)


def enqueue_sealed(job: str, personal: str, *args: object) -> None:
    """Queue the job `job` with `personal` (an email address...) sealed as its first argument;
    the job opens it with `argument_box`."""
    enqueue_now(job, argument_box(_app().config).seal(personal), *args)


def enqueue_after_commit(db_session: OrmSession, job: str, *args: object) -> None:
    """Queue `job` once `db_session`'s transaction commits."""
    app = _app()
    after_commit(
        db_session, lambda: enqueue_job(queue_for(app.config, app.instance_path), job, *args)
    )


def deliver_after_commit(db_session: OrmSession, lane: Lane = Lane.MAIL) -> None:
    """Have a worker deliver what is due on `lane` once `db_session` commits. Without an
    application (a script), or with DSR_DELIVER_AFTER_COMMIT=false, the scheduler delivers it."""
    if not has_app_context() or not setting_on(current_app.config, "DELIVER_AFTER_COMMIT"):
        return
    enqueue_after_commit(db_session, _DELIVERY_JOBS[lane])


def run_after_commit(
    db_session: OrmSession, *, request: DataRequest, staff_label: str | None = None
) -> None:
    """Have a worker run `request` once the current transaction commits; nothing for a type
    carried out by hand."""
    from dsr.execution.runner import has_executor

    if request.id is None or not has_executor(request.type):
        return
    enqueue_after_commit(db_session, "run_request", request.id, staff_label)


def run_after_approval(db_session: OrmSession, *, request: DataRequest) -> None:
    """Have a worker carry out `request` once its approval commits, unless
    EXECUTE_AFTER_APPROVAL is off (staff then run it from its page, or `dsr request run REF`)."""
    if setting_on(current_app.config, "EXECUTE_AFTER_APPROVAL"):
        run_after_commit(db_session, request=request)
