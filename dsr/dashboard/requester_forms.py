"""The forms of a request's page about who asks and for whom (R45, R46): the check of a
representative's proof, whom the request is made for, the check of an identity document, and the
subject's other identities. The CSRF token of every POST is checked for the whole application."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wtforms import Form, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from dsr.addresses import EMAIL_MAX
from dsr.dashboard.forms import REASON_MAX, ActionForm
from dsr.i18n import lazy_gettext
from dsr.requests.models import SUBJECT_NAME_MAX, RequesterRole
from dsr.requests.representation import ROLE_NAMES


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _note(label: str, *validators: Any) -> TextAreaField:
    return TextAreaField(
        label,
        filters=[_stripped],
        validators=[
            *validators,
            Length(
                max=REASON_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=REASON_MAX),
            ),
        ],
        render_kw={"maxlength": REASON_MAX, "rows": 3},
    )


class ProofCheckForm(Form):
    """Record the check of the proof that the requester may act for the person (R45)."""

    outcome = RadioField(
        lazy_gettext("The proof"),
        choices=[
            SelectChoice(
                "accepted", lazy_gettext("Accepted: the requester may act for this person")
            ),
            SelectChoice("refused", lazy_gettext("Refused")),
        ],
        validators=[
            InputRequired(lazy_gettext("Say whether the proof is accepted.")),
            AnyOf(["accepted", "refused"], message=lazy_gettext("Choose an outcome.")),
        ],
    )
    reason = _note(lazy_gettext("What was checked, or why it is refused"), Optional())


class RepresentationForm(Form):
    """Say whom the request is made for (one received by letter from a representative)."""

    role = SelectField(
        lazy_gettext("The requester is"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_NAMES.items()],
        validators=[
            DataRequired(lazy_gettext("Choose who the requester is.")),
            AnyOf([role.value for role in RequesterRole], message=lazy_gettext("Choose one.")),
        ],
        validate_choice=False,
    )
    subject_name = StringField(
        lazy_gettext("Name of the person the request is for"),
        filters=[_stripped],
        validators=[Length(max=SUBJECT_NAME_MAX)],
        render_kw={"maxlength": SUBJECT_NAME_MAX},
    )
    subject_email = StringField(
        lazy_gettext("Their email address (how the systems know them)"),
        filters=[_stripped],
        validators=[Length(max=EMAIL_MAX)],
        render_kw={"maxlength": EMAIL_MAX, "type": "email"},
    )


class IdentityCheckForm(ActionForm):
    """Record the check of the requester's identity by the document they sent (R46)."""

    outcome = RadioField(
        lazy_gettext("Identity"),
        choices=[
            SelectChoice("confirmed", lazy_gettext("Confirmed by the identity document")),
            SelectChoice("not_confirmed", lazy_gettext("Not confirmed: refuse the request")),
        ],
        validators=[
            InputRequired(lazy_gettext("Say whether the identity is confirmed.")),
            AnyOf(["confirmed", "not_confirmed"], message=lazy_gettext("Choose an outcome.")),
        ],
    )
    note = _note(lazy_gettext("Note (the reason, sent to the requester, if refused)"), Optional())


class AddIdentityForm(Form):
    """Add another identity of the person: an email address or a phone number, proven."""

    identity = SelectField(
        lazy_gettext("Identity"),
        validators=[DataRequired(lazy_gettext("Choose an identity."))],
        validate_choice=False,
    )
    value = StringField(
        lazy_gettext("Value (email address or phone number)"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Enter the email address or phone number.")),
            Length(max=EMAIL_MAX),
        ],
        render_kw={"maxlength": EMAIL_MAX, "autocomplete": "off"},
    )
    proof = _note(
        lazy_gettext("How was it proven to be the person's?"),
        DataRequired(lazy_gettext("Say how this identity was proven to be the person's.")),
    )

    def __init__(self, *args: Any, identities: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.identity.choices = [SelectChoice(name, name) for name in identities]


class RemoveIdentityForm(Form):
    """Remove an identity added by mistake: the CSRF token is all it sends."""
