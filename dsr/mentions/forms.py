"""The form of staff's decision on one possible mention (the request page's mentions panel)."""

from __future__ import annotations

from wtforms import Form, HiddenField, RadioField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Length

from dsr.i18n import lazy_gettext

SUBJECT = "subject"
NOT_SUBJECT = "not_subject"
PLACE_MAX = 900


class MentionDecisionForm(Form):
    """Which text (its place, no content) and whether it names the requester."""

    place = HiddenField(validators=[DataRequired(), Length(max=PLACE_MAX)])
    decision = RadioField(
        lazy_gettext("Decision"),
        choices=[
            SelectChoice(SUBJECT, lazy_gettext("Is this person")),
            SelectChoice(NOT_SUBJECT, lazy_gettext("Not this person")),
        ],
        validators=[DataRequired()],
    )
