"""Record staff's decision on one possible mention of a request's subject (issue 20).

The POST runs the search again, so that only a text that still names the person can be decided
on; the panel that offers it is `mention_panel`.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.mention_panel import DECIDING_STATUSES, unreadable
from dsr.dashboard.request_views import request_by_reference
from dsr.datamap import desk_map, open_systems
from dsr.db import get_session, utcnow
from dsr.i18n import gettext
from dsr.mentions import service
from dsr.mentions.forms import SUBJECT, MentionDecisionForm
from dsr.requests.refusals import OperationRefused
from inventory.systems import SystemUnavailable


@blueprint.post("/requests/<reference>/mentions/decide")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def decide_mention(reference: str) -> AnyResponse:
    """Record whether one possible mention names the requester."""
    user = current_staff()
    if user is None:
        abort(403)
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    page = redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)
    form = MentionDecisionForm(request.form)
    if not form.validate():
        abort(400, description=gettext("Say whether the text names this person, or not."))
    if data_request.status not in DECIDING_STATUSES:
        abort(
            409,
            description=gettext(
                "Possible mentions are decided on before the request is approved: this "
                "request is no longer in review."
            ),
        )
    data_map = desk_map(current_app.config)
    try:
        found = service.possible_mentions(
            data_map, open_systems(current_app.config, data_map), data_request
        )
    except SystemUnavailable as error:
        flash(gettext("Not done: %(reason)s", reason=unreadable(error)), "error")
        return page
    mention = service.find_by_token(found, form.place.data or "")
    if mention is None:
        abort(
            409,
            description=gettext(
                "This text is not a possible mention of the person (any more): it may have "
                "changed since the page was shown."
            ),
        )
    try:
        service.decide(
            db_session=db_session,
            request=data_request,
            mention=mention,
            is_subject=form.decision.data == SUBJECT,
            staff_label=user.email,
            now=utcnow(),
        )
    except OperationRefused as error:
        db_session.rollback()
        flash(gettext("Not done: %(reason)s", reason=error.message), "error")
        return page
    flash(
        gettext("Recorded: this text names the person.")
        if form.decision.data == SUBJECT
        else gettext("Recorded: this text does not name the person.")
    )
    return page
