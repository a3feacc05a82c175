"""The dashboard's Retention pages: every sweep with its date, status, why it waits and its
totals; a sweep's dry-run report per category and table, and its outcome once run; and "Approve
and run" for a waiting sweep (admin and DPO), which a worker then runs, never the web request.

A report is rendered from what it holds (`dsr.retention.approval.dry_run_report` keeps every
field of a category's sweep): the fields named here get a label, any other shows under its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import flask_babel  # type: ignore[import-untyped]
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlmodel import col
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.dates import shown_moment
from dsr.db import get_session, utcnow
from dsr.i18n import current_language, gettext, lazy_gettext
from dsr.retention.approval import (
    ApprovalRefused,
    Refusal,
    WaitReason,
    approve_sweep,
    map_digest,
    waiting_sweep_id,
)
from dsr.retention.models import RetentionSweep, SweepStatus, SweepTrigger
from dsr.worker.enqueue import enqueue_after_commit

SWEEPS_SHOWN = 100
APPROVERS = (StaffRole.ADMIN, StaffRole.DPO)

STATUS_LABELS = {
    SweepStatus.WAITING: lazy_gettext("Waiting for approval"),
    SweepStatus.SUPERSEDED: lazy_gettext("Superseded by a newer report"),
    SweepStatus.APPROVED: lazy_gettext("Approved, waiting for a worker"),
    SweepStatus.RUNNING: lazy_gettext("Running"),
    SweepStatus.DONE: lazy_gettext("Carried out"),
    SweepStatus.FAILED: lazy_gettext("Failed"),
}
TRIGGER_LABELS = {
    SweepTrigger.NIGHTLY: lazy_gettext("Nightly"),
    SweepTrigger.CONSOLE: lazy_gettext("Console (dsr retention run)"),
}
ACTION_LABELS = {
    "delete": lazy_gettext("Delete"),
    "anonymize": lazy_gettext("Anonymise"),
}
FIELD_LABELS = {
    "system": lazy_gettext("System"),
    "category": lazy_gettext("Category"),
    "table": lazy_gettext("Table"),
    "date_column": lazy_gettext("Date column"),
    "action": lazy_gettext("Action"),
    "period": lazy_gettext("Retention period"),
    "cutoff": lazy_gettext("Rows dated before"),
    "condition": lazy_gettext("Condition"),
    "rows": lazy_gettext("Rows of the table changed"),
    "oldest": lazy_gettext("Oldest date"),
    "followers": lazy_gettext("Rows of other tables changed with them"),
    "held": lazy_gettext("Held back: the account holder not yet warned long enough"),
    "referenced": lazy_gettext("Held back: still referenced by rows that are kept"),
    "no_date": lazy_gettext("Not swept: rows without a date"),
    "not_swept": lazy_gettext("Tables not swept (the map gives them no date)"),
    "legal_hold": lazy_gettext("Held back: a legal hold"),
    "fallback": lazy_gettext("Start, where the date is empty"),
    "blocked": lazy_gettext("Kept by rows no sweep takes now (table, columns: rows)"),
}
HELD_FIELDS = ("held", "referenced", "legal_hold")


@dataclass(frozen=True, slots=True)
class SweepLine:
    """A sweep in the list, with its totals (None: not run)."""

    sweep: RetentionSweep
    to_change: int
    held_back: int
    changed: int | None


def _numbers(items: Any) -> int:
    return sum(int(item["rows"]) for item in items) if isinstance(items, list) else 0


def sweep_line(sweep: RetentionSweep) -> SweepLine:
    categories = sweep.report.get("categories", [])
    changed = None
    if sweep.outcome is not None:
        changed = sum(
            int(one["rows"]) + sum(int(n) for n in one["followers"].values())
            for one in sweep.outcome
        )
    return SweepLine(
        sweep=sweep,
        to_change=sum(int(c.get("rows", 0)) + _numbers(c.get("followers")) for c in categories),
        held_back=sum(int(c.get(name) or 0) for c in categories for name in HELD_FIELDS),
        changed=changed,
    )


def shown_share(fraction: float) -> str:
    """Return a share of a table (0 to 1) as a percentage to a tenth, in the current locale."""
    return str(flask_babel.format_percent(fraction, format="#,##0.# %"))


def reason_label(reason: str, sweep: RetentionSweep) -> str:
    if reason == WaitReason.FIRST_SWEEP:
        return gettext("The first sweep: none was approved before.")
    if reason == WaitReason.MAP_CHANGED:
        return gettext("The data map changed since the last approved sweep.")
    if reason == WaitReason.LARGE_SHARE:
        share = shown_share(float(sweep.report.get("share_allowed", 0)))
        return gettext("It would delete or anonymise more than %(share)s of a table.", share=share)
    return reason


def shown_value(key: str, value: Any) -> str:
    """Return a field of a category's report as people read it (the map's names and counts)."""
    if value is None or value == [] or value == "":
        return "—"
    if key == "action" and value in ACTION_LABELS:
        return str(ACTION_LABELS[value])
    if key in ("cutoff", "oldest") and isinstance(value, str) and "T" in value:
        return shown_moment(datetime.fromisoformat(value))
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, Mapping):
        if set(value) == {"fr", "en"}:
            return str(value[current_language().value])
        return ", ".join(f"{name}: {shown_value(name, one)}" for name, one in value.items())
    if isinstance(value, list):
        if all(isinstance(one, Mapping) and set(one) == {"table", "rows"} for one in value):
            return ", ".join(f"{one['table']}: {one['rows']}" for one in value)
        if all(
            isinstance(one, Mapping) and set(one) == {"table", "columns", "rows"} for one in value
        ):
            return ", ".join(f"{one['table']} ({one['columns']}): {one['rows']}" for one in value)
        return ", ".join(shown_value(key, one) for one in value)
    return str(value)


def _sweep_or_404(sweep_id: int) -> RetentionSweep:
    sweep = get_session().get(RetentionSweep, sweep_id)
    if sweep is None:
        abort(404)
    return sweep


def _can_approve() -> bool:
    staff = current_staff()
    return staff is not None and staff.role in APPROVERS


@blueprint.app_context_processor
def _retention_globals() -> dict[str, object]:
    """`retention_waiting()`: the id of the sweep waiting for approval, for the notice of the
    queue and the tasks (read only where a page asks)."""
    return {"retention_waiting": lambda: waiting_sweep_id(get_session())}


@blueprint.get("/retention")
def retention() -> str:
    """List the sweeps, newest first."""
    sweeps = (
        get_session()
        .execute(
            select(RetentionSweep)
            .order_by(col(RetentionSweep.planned_at).desc(), col(RetentionSweep.id).desc())
            .limit(SWEEPS_SHOWN)
        )
        .scalars()
        .all()
    )
    return render_template(
        "dashboard/retention.html",
        lines=[sweep_line(sweep) for sweep in sweeps],
        status_label=STATUS_LABELS.__getitem__,
        trigger_label=TRIGGER_LABELS.__getitem__,
        reason_label=reason_label,
        shown_moment=shown_moment,
    )


def _sweep_page(
    sweep: RetentionSweep, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "dashboard/retention_sweep.html",
        sweep=sweep,
        line=sweep_line(sweep),
        error=error,
        can_approve=_can_approve() and sweep.status is SweepStatus.WAITING,
        field_labels=FIELD_LABELS,
        shown_value=shown_value,
        shown_share=shown_share,
        status_label=STATUS_LABELS.__getitem__,
        trigger_label=TRIGGER_LABELS.__getitem__,
        reason_label=reason_label,
        error_label=_error_label,
        shown_moment=shown_moment,
    ), status


def _error_label(error: str) -> str:
    if error == Refusal.MAP_CHANGED:
        return gettext("The data map changed after the approval: nothing was run.")
    return gettext("The sweep stopped on an error: %(kind)s.", kind=error)


@blueprint.get("/retention/<int:sweep_id>")
def retention_sweep(sweep_id: int) -> ResponseReturnValue:
    """Show a sweep's report per category and table, and its outcome once run."""
    return _sweep_page(_sweep_or_404(sweep_id))


@blueprint.post("/retention/<int:sweep_id>/approve")
@staff_required(*APPROVERS)
def approve_retention_sweep(sweep_id: int) -> ResponseReturnValue:
    """Approve a waiting sweep; a worker runs it once this commits (PRG)."""
    staff = current_staff()
    sweep = _sweep_or_404(sweep_id)
    if staff is None:
        abort(403)
    if request.form.get("confirm") != "yes":
        message = gettext("Tick the box to confirm you read the report: nothing was run.")
        return _sweep_page(sweep, message, 400)
    db_session = get_session()
    try:
        approve_sweep(
            db_session=db_session,
            sweep_id=sweep_id,
            staff_label=staff.email,
            now=utcnow(),
            digest=map_digest(current_app.config),
        )
    except ApprovalRefused as refused:
        db_session.rollback()
        if refused.reason is Refusal.MAP_CHANGED:
            message = gettext(
                "The data map changed since this report: it cannot be approved, nothing was "
                "run. The next nightly sweep makes a new report to approve."
            )
        else:
            message = gettext(
                "This sweep no longer waits for approval (approved already, superseded or "
                "run): nothing more was done."
            )
        return _sweep_page(_sweep_or_404(sweep_id), message, 409)
    enqueue_after_commit(db_session, "run_retention_sweep", sweep_id)
    flash(gettext("Approved: a worker runs the sweep; this page shows its outcome once done."))
    return _redirect(sweep_id)


def _redirect(sweep_id: int) -> AnyResponse:
    return redirect(url_for("dashboard.retention_sweep", sweep_id=sweep_id), 303)
