"""The forms of the learner's side, one per screen.

Plain WTForms forms: the CSRF token of every POST is checked for the whole application by
`dsr.extensions.csrf` (a missing or stale token is a 400 page), so the forms carry only what the
requester types. Labels and messages are translated when the form is shown.
"""

from __future__ import annotations

from typing import Any

from wtforms import Form, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from dsr.addresses import EMAIL_MAX
from dsr.i18n import lazy_gettext
from dsr.languages import LANGUAGE_NAMES, Language
from dsr.requests.labels import REQUEST_TYPE_LABELS
from dsr.requests.models import DESIGNEE_NAME_MAX, MESSAGE_MAX, RECTIFICATION_MAX
from dsr.requests.workflow import RequestType


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def asked_types(form: Form) -> list[str]:
    """Return the types the form asks for: its main type, then those also ticked (issue 19)."""
    also = form["also_types"].data if "also_types" in form else None
    return [form["request_type"].data, *(also or [])]


class RequiredForRectification:
    """Require the field when the form's type is rectification; drop it for any other type."""

    def __call__(self, form: Form, field: Any) -> None:
        if RequestType.RECTIFICATION.value not in asked_types(form):
            field.data = None
            field.errors = []
            raise StopValidation()
        if not field.data:
            raise StopValidation(lazy_gettext("Tell us what to correct."))


class MessageRequiredFor:
    """Require the message when the form's type is an objection on legitimate interests (the
    requester's particular situation) or post-mortem directives (the directives)."""

    def __call__(self, form: Form, field: Any) -> None:
        asked = asked_types(form)
        if field.data:
            return
        if RequestType.OBJECTION_LEGITIMATE_INTEREST.value in asked:
            raise StopValidation(
                lazy_gettext("Explain your particular situation: why you object to this use.")
            )
        if RequestType.POST_MORTEM.value in asked:
            raise StopValidation(lazy_gettext("Write your directives."))


class RequiredForPostMortem:
    """Require the field for post-mortem directives; drop it for any other type."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Form, field: Any) -> None:
        if RequestType.POST_MORTEM.value not in asked_types(form):
            field.data = None
            field.errors = []
            raise StopValidation()
        if not field.data:
            raise StopValidation(self.message)


def _email_field() -> StringField:
    return StringField(
        lazy_gettext("Your email address"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Enter your email address.")),
            Length(
                max=EMAIL_MAX,
                message=lazy_gettext(
                    "An email address has at most %(max)d characters.", max=EMAIL_MAX
                ),
            ),
            Email(lazy_gettext("Enter a valid email address, like name@example.org.")),
        ],
        render_kw={"autocomplete": "email", "maxlength": EMAIL_MAX, "type": "email"},
    )


class RequestForm(Form):
    """A new request: who asks (the address to prove), for what, and in which language."""

    email = _email_field()
    request_type = SelectField(
        lazy_gettext("What do you ask for?"),
        choices=[SelectChoice(kind.value, label) for kind, label in REQUEST_TYPE_LABELS.items()],
        validators=[DataRequired(lazy_gettext("Choose what you ask for."))],
        validate_choice=False,
    )
    # --- several things in one request (issue 19) ---
    also_types = SelectMultipleField(
        lazy_gettext("Do you also ask for something else? (optional)"),
        choices=[SelectChoice(kind.value, label) for kind, label in REQUEST_TYPE_LABELS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
    rectification = TextAreaField(
        lazy_gettext("What should we correct, and what is the right value?"),
        filters=[_stripped],
        validators=[
            RequiredForRectification(),
            Length(
                max=RECTIFICATION_MAX,
                message=lazy_gettext(
                    "Please keep this under %(max)d characters.", max=RECTIFICATION_MAX
                ),
            ),
        ],
        render_kw={"maxlength": RECTIFICATION_MAX, "rows": 4},
    )
    message = TextAreaField(
        lazy_gettext("Anything else we should know? (optional)"),
        filters=[_stripped],
        validators=[
            MessageRequiredFor(),
            Optional(),
            Length(
                max=MESSAGE_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=MESSAGE_MAX),
            ),
        ],
        render_kw={"maxlength": MESSAGE_MAX, "rows": 5},
    )
    designee_name = StringField(
        lazy_gettext("Name of the person who will carry out your directives"),
        filters=[_stripped],
        validators=[
            RequiredForPostMortem(
                lazy_gettext("Name the person who will carry out your directives.")
            ),
            Length(
                max=DESIGNEE_NAME_MAX,
                message=lazy_gettext(
                    "Please keep this under %(max)d characters.", max=DESIGNEE_NAME_MAX
                ),
            ),
        ],
        render_kw={"maxlength": DESIGNEE_NAME_MAX, "autocomplete": "off"},
    )
    designee_email = StringField(
        lazy_gettext("Their email address"),
        filters=[_stripped],
        validators=[
            RequiredForPostMortem(lazy_gettext("Enter the email address of that person.")),
            Length(
                max=EMAIL_MAX,
                message=lazy_gettext(
                    "An email address has at most %(max)d characters.", max=EMAIL_MAX
                ),
            ),
            Email(lazy_gettext("Enter a valid email address, like name@example.org.")),
        ],
        render_kw={"maxlength": EMAIL_MAX, "type": "email", "autocomplete": "off"},
    )
    language = SelectField(
        lazy_gettext("Language of our answers"),
        choices=[SelectChoice(language.value, name) for language, name in LANGUAGE_NAMES.items()],
        validators=[DataRequired(lazy_gettext("Choose a language."))],
        validate_choice=False,
    )
    website = StringField(
        lazy_gettext("Leave this field empty"),
        render_kw={"autocomplete": "off", "tabindex": "-1"},
    )
    """A honeypot: hidden from people, filled in by robots; a filled one stores nothing."""

    def validate_request_type(self, field: SelectField) -> None:
        if field.data not in {kind.value for kind in RequestType}:
            raise StopValidation(lazy_gettext("Choose one of the requests in the list."))

    def validate_also_types(self, field: SelectMultipleField) -> None:
        known = {kind.value for kind in RequestType}
        also = field.data or []
        if any(value not in known for value in also):
            raise StopValidation(lazy_gettext("Choose among the requests in the list."))
        if self.request_type.data in also or len(set(also)) != len(also):
            raise StopValidation(lazy_gettext("Tick only what you have not already chosen above."))

    def validate_language(self, field: SelectField) -> None:
        if field.data not in {language.value for language in Language}:
            raise StopValidation(lazy_gettext("Choose one of the languages in the list."))

    @property
    def is_from_a_robot(self) -> bool:
        """Tell whether the honeypot was filled in."""
        return bool((self.website.data or "").strip())


class ResendForm(Form):
    """Ask for a new verification link for the requests of an address."""

    email = _email_field()


class AnswerForm(Form):
    """The requester's answer to staff who asked for more information."""

    message = TextAreaField(
        lazy_gettext("Your answer"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Write your answer.")),
            Length(
                max=MESSAGE_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=MESSAGE_MAX),
            ),
        ],
        render_kw={"maxlength": MESSAGE_MAX, "rows": 6},
    )


class ConfirmForm(Form):
    """A button with nothing to type (verify, cancel): the CSRF token is all it sends."""
