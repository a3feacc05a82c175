"""The forms of the staff's account pages, one per screen.

Plain WTForms forms, like the learner's: the CSRF token of every POST is checked for the whole
application by `dsr.extensions.csrf`.
"""

from __future__ import annotations

from typing import Any

from wtforms import Form, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from dsr.accounts.models import NAME_MAX, StaffRole
from dsr.accounts.service import PASSWORD_MAX, PASSWORD_MIN, WeakPassword, check_password_strength
from dsr.addresses import EMAIL_MAX
from dsr.i18n import lazy_gettext
from dsr.languages import LANGUAGE_NAMES

ROLE_LABELS = {
    StaffRole.ADMIN: lazy_gettext("Administrator: manages the staff accounts"),
    StaffRole.DPO: lazy_gettext("Privacy officer: works the requests"),
    StaffRole.AUDITOR: lazy_gettext("Auditor: reads everything, changes nothing"),
}


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _email_field(label: str) -> StringField:
    return StringField(
        label,
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Enter the email address.")),
            Length(max=EMAIL_MAX),
            Email(lazy_gettext("Enter a valid email address, like name@example.org.")),
        ],
        render_kw={"autocomplete": "username", "maxlength": EMAIL_MAX, "type": "email"},
    )


class StrongPassword:
    """Refuse a password that `check_password_strength` refuses, saying why in the reader's
    language."""

    def __call__(self, form: Form, field: Any) -> None:
        try:
            check_password_strength(field.data or "")
        except WeakPassword:
            raise ValidationError(
                lazy_gettext(
                    "Choose a password of %(min)d to %(max)d characters, not made of one or two "
                    "repeated characters. A few unrelated words make a good one.",
                    min=PASSWORD_MIN,
                    max=PASSWORD_MAX,
                )
            ) from None


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(lazy_gettext("Choose a password.")), StrongPassword()],
        render_kw={"autocomplete": "new-password", "minlength": PASSWORD_MIN},
    )
    confirmation = PasswordField(
        lazy_gettext("New password, again"),
        validators=[
            DataRequired(lazy_gettext("Type the password again.")),
            EqualTo("password", lazy_gettext("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirmation


def _current_password_field() -> PasswordField:
    return PasswordField(
        lazy_gettext("Your current password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class LoginForm(Form):
    email = _email_field(lazy_gettext("Email address"))
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Enter your password.")), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class SecondFactorForm(Form):
    code = StringField(
        lazy_gettext("Code from your authenticator app, or a recovery code"),
        filters=[_stripped],
        validators=[DataRequired(lazy_gettext("Enter the code.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "maxlength": 32},
    )


class EnrolmentForm(Form):
    code = StringField(
        lazy_gettext("The 6-digit code your app shows now"),
        filters=[_stripped],
        validators=[DataRequired(lazy_gettext("Enter the code.")), Length(max=16)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 16},
    )


class ConfirmPasswordForm(Form):
    """Prove it is still you before a sensitive change (new recovery codes)."""

    current_password = _current_password_field()


class ChangePasswordForm(Form):
    current_password = _current_password_field()
    password, confirmation = _new_password_fields()


class SetPasswordForm(Form):
    """The password of an invitation accepted or a reset link followed."""

    password, confirmation = _new_password_fields()


class ForgotPasswordForm(Form):
    email = _email_field(lazy_gettext("Your email address"))


class InvitationForm(Form):
    email = _email_field(lazy_gettext("Email address of the new staff member"))
    name = StringField(
        lazy_gettext("Name"),
        filters=[_stripped],
        validators=[Length(max=NAME_MAX)],
        render_kw={"maxlength": NAME_MAX, "autocomplete": "off"},
    )
    role = SelectField(
        lazy_gettext("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[DataRequired(lazy_gettext("Choose a role."))],
    )
    language = SelectField(
        lazy_gettext("Language of the invitation email"),
        choices=[SelectChoice(language.value, name) for language, name in LANGUAGE_NAMES.items()],
    )
