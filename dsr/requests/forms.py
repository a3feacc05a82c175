"""The forms of the learner's side, one per screen.

Plain WTForms forms: the CSRF token of every POST is checked for the whole application by
`dsr.extensions.csrf` (a missing or stale token is a 400 page), so the forms carry only what the
requester types. Labels and messages are translated when the form is shown.
"""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    FileField,
    Form,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from dsr.addresses import EMAIL_MAX
from dsr.i18n import lazy_gettext
from dsr.languages import LANGUAGE_NAMES, Language
from dsr.requests.labels import REQUEST_TYPE_LABELS
from dsr.requests.models import (
    DESIGNEE_NAME_MAX,
    MESSAGE_MAX,
    RECTIFICATION_MAX,
    SUBJECT_NAME_MAX,
    RequesterRole,
)
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


def type_field(label: str, required: str) -> SelectField:
    """The main type of a request, among the workflow's (the form that takes it also says what
    else is asked for: `also_types_field`)."""
    return SelectField(
        label,
        choices=[SelectChoice(kind.value, name) for kind, name in REQUEST_TYPE_LABELS.items()],
        validators=[DataRequired(required)],
        validate_choice=False,
    )


def also_types_field(label: str) -> SelectMultipleField:
    """The other types asked for in the same submission, as checkboxes (issue 19)."""
    return SelectMultipleField(
        label,
        choices=[SelectChoice(kind.value, name) for kind, name in REQUEST_TYPE_LABELS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )


def rectification_field(label: str, *, rows: int) -> TextAreaField:
    """What to correct: required when a rectification is among the types asked for."""
    return TextAreaField(
        label,
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
        render_kw={"maxlength": RECTIFICATION_MAX, "rows": rows},
    )


def person_name_field(label: str, required: Any, maximum: int) -> StringField:
    """The name of a person other than the requester (whom a request is for, who carries out
    directives): `required` says when it must be given."""
    return StringField(
        label,
        filters=[_stripped],
        validators=[
            required,
            Length(
                max=maximum,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=maximum),
            ),
        ],
        render_kw={"maxlength": maximum, "autocomplete": "off"},
    )


def person_email_field(label: str, required: Any) -> StringField:
    """The email address of a person other than the requester; `required` says when."""
    return StringField(
        label,
        filters=[_stripped],
        validators=[
            required,
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


class RequiredForSomeoneElse:
    """Require the field when the request is made for someone else; drop it otherwise (R45)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Form, field: Any) -> None:
        if not form["for_someone_else"].data:
            field.data = None
            field.errors = []
            raise StopValidation()
        if not field.data:
            raise StopValidation(self.message)


ROLE_LABELS: dict[RequesterRole, str] = {
    RequesterRole.REPRESENTATIVE: lazy_gettext(
        "I represent this person, with a mandate they signed"
    ),
    RequesterRole.PARENTAL_AUTHORITY: lazy_gettext(
        "I hold parental authority over this person, a minor"
    ),
}


class RequestForm(Form):
    """A new request: who asks (the address to prove), for what, and in which language; and,
    when it is made for someone else (R45), for whom and with which proof."""

    email = _email_field()
    request_type = type_field(
        lazy_gettext("What do you ask for?"), lazy_gettext("Choose what you ask for.")
    )
    # --- several things in one request (issue 19) ---
    also_types = also_types_field(lazy_gettext("Do you also ask for something else? (optional)"))
    rectification = rectification_field(
        lazy_gettext("What should we correct, and what is the right value?"), rows=4
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
    designee_name = person_name_field(
        lazy_gettext("Name of the person who will carry out your directives"),
        RequiredForPostMortem(lazy_gettext("Name the person who will carry out your directives.")),
        DESIGNEE_NAME_MAX,
    )
    designee_email = person_email_field(
        lazy_gettext("Their email address"),
        RequiredForPostMortem(lazy_gettext("Enter the email address of that person.")),
    )
    language = SelectField(
        lazy_gettext("Language of our answers"),
        choices=[SelectChoice(language.value, name) for language, name in LANGUAGE_NAMES.items()],
        validators=[DataRequired(lazy_gettext("Choose a language."))],
        validate_choice=False,
    )
    # --- made for someone else (R45) ------------------------------------------------------------
    for_someone_else = BooleanField(lazy_gettext("I am making this request for someone else"))
    requester_role = SelectField(
        lazy_gettext("You are"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[RequiredForSomeoneElse(lazy_gettext("Say how you act for this person."))],
        validate_choice=False,
    )
    subject_name = person_name_field(
        lazy_gettext("Their name"),
        RequiredForSomeoneElse(lazy_gettext("Enter the name of the person.")),
        SUBJECT_NAME_MAX,
    )
    subject_email = person_email_field(
        lazy_gettext("Their email address"),
        RequiredForSomeoneElse(lazy_gettext("Enter the person's email address.")),
    )
    proof = FileField(lazy_gettext("The proof (PDF, PNG, JPEG or plain text)"))
    requester_identity = FileField(
        lazy_gettext("Your own identity document, if the proof does not name you (optional)")
    )

    def validate_requester_role(self, field: SelectField) -> None:
        if field.data not in {role.value for role in ROLE_LABELS}:
            raise StopValidation(lazy_gettext("Choose one of the roles in the list."))

    def validate_subject_email(self, field: StringField) -> None:
        own = (self.email.data or "").strip().lower()
        if own and (field.data or "").strip().lower() == own:
            raise StopValidation(
                lazy_gettext(
                    "This is your own address: give the address of the person you act for."
                )
            )

    @property
    def role(self) -> RequesterRole:
        """Whom the request is for, as the form says."""
        if not self.for_someone_else.data:
            return RequesterRole.SELF
        return RequesterRole(self.requester_role.data)

    # --- end of the R45 block -------------------------------------------------------------------
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


class IdentityDocumentUploadForm(Form):
    """The identity document staff asked for, with its reason (R46): one file."""

    document = FileField(lazy_gettext("Your identity document (PDF, PNG or JPEG)"))


class ConfirmForm(Form):
    """A button with nothing to type (verify, cancel): the CSRF token is all it sends."""
