"""The forms of requests received by another channel (R44): recording one, and recording the day
its answer was posted. Plain WTForms forms (the CSRF token is checked for the whole app)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FileField,
    Form,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, StopValidation

from dsr.addresses import EMAIL_MAX
from dsr.i18n import lazy_gettext
from dsr.languages import LANGUAGE_NAMES, Language
from dsr.requests.forms import (
    RequiredForPostMortem,
    also_types_field,
    person_email_field,
    person_name_field,
    rectification_field,
    type_field,
)
from dsr.requests.models import (
    CONTACT_MAX,
    DESIGNEE_NAME_MAX,
    MESSAGE_MAX,
    STAFF_CHANNELS,
    AnswerChannel,
    Channel,
)
from dsr.requests.workflow import RequestType

CHANNEL_LABELS: Mapping[Channel, str] = {
    Channel.WEB: lazy_gettext("Web form"),
    Channel.API: lazy_gettext("API (learner platform)"),
    Channel.EMAIL: lazy_gettext("Email"),
    Channel.LETTER: lazy_gettext("Letter"),
    Channel.PHONE: lazy_gettext("Phone call"),
    Channel.IN_PERSON: lazy_gettext("In person"),
}
"""How a request reached the desk, as staff read it (the page and the queue)."""
ANSWER_CHANNEL_LABELS: Mapping[AnswerChannel, str] = {
    AnswerChannel.EMAIL: lazy_gettext("By email"),
    AnswerChannel.POST: lazy_gettext("By post"),
}
"""How the answer goes to the requester, as staff read it."""

PROVE_BY_LINK = "link"
PROVE_CHECKED = "checked"
RECEIVED_AT_FORMAT = "%Y-%m-%dT%H:%M"


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _text(label: str, maximum: int, rows: int) -> TextAreaField:
    """A free text, empty or up to `maximum` characters (the form's checks say when it is
    required)."""
    return TextAreaField(
        label,
        filters=[_stripped],
        validators=[
            Length(
                max=maximum,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=maximum),
            ),
        ],
        render_kw={"maxlength": maximum, "rows": rows},
    )


class ReceivedRequestForm(Form):
    """A request received by email, letter, phone or in person, as staff type it in: its main
    type, and the others the person asked for at the same time (`also_types`, issue 19)."""

    channel = SelectField(
        lazy_gettext("Received by"),
        choices=[
            SelectChoice(channel.value, CHANNEL_LABELS[channel]) for channel in STAFF_CHANNELS
        ],
        validators=[DataRequired(lazy_gettext("Say how the request was received."))],
        validate_choice=False,
    )
    received_at = DateTimeLocalField(
        lazy_gettext("Date and time of receipt (the organisation's time)"),
        format=RECEIVED_AT_FORMAT,
        validators=[
            InputRequired(lazy_gettext("Give the date and time the request was received."))
        ],
    )
    request_type = type_field(
        lazy_gettext("What the person asks for"),
        lazy_gettext("Choose what the person asks for."),
    )
    also_types = also_types_field(
        lazy_gettext("Also asked for in the same letter, email or call (optional)")
    )
    rectification = rectification_field(
        lazy_gettext("What to correct, and the right value (for a rectification)"), rows=3
    )
    email = StringField(
        lazy_gettext("The requester's email address (optional for a letter, a call, a visit)"),
        filters=[_stripped],
        validators=[
            Optional(),
            Length(
                max=EMAIL_MAX,
                message=lazy_gettext(
                    "An email address has at most %(max)d characters.", max=EMAIL_MAX
                ),
            ),
            Email(lazy_gettext("Enter a valid email address, like name@example.org.")),
        ],
        render_kw={"autocomplete": "off", "maxlength": EMAIL_MAX, "type": "email"},
    )
    contact = _text(
        lazy_gettext("Postal address or phone number given by the person"), CONTACT_MAX, rows=3
    )
    message = _text(
        lazy_gettext("The request as received (typed from the letter or the call)"),
        MESSAGE_MAX,
        rows=6,
    )
    designee_name = person_name_field(
        lazy_gettext("Name of the person designated to carry out the directives"),
        RequiredForPostMortem(
            lazy_gettext("Name the person designated to carry out the directives.")
        ),
        DESIGNEE_NAME_MAX,
    )
    designee_email = person_email_field(
        lazy_gettext("Email address of the designated person"),
        RequiredForPostMortem(lazy_gettext("Give the email address of the designated person.")),
    )
    file = FileField(lazy_gettext("The email or letter received (PDF, PNG, JPEG or plain text)"))
    language = SelectField(
        lazy_gettext("Language of the answer"),
        choices=[SelectChoice(language.value, name) for language, name in LANGUAGE_NAMES.items()],
        validators=[DataRequired(lazy_gettext("Choose a language."))],
        validate_choice=False,
    )
    answer_by_post = BooleanField(lazy_gettext("The person asks for the answer by post"))
    proof = RadioField(
        lazy_gettext("How the person's identity is proven"),
        choices=[
            SelectChoice(
                PROVE_BY_LINK,
                lazy_gettext("Send the verification email to the address given (as for the form)"),
            ),
            SelectChoice(
                PROVE_CHECKED,
                lazy_gettext("The identity was checked otherwise (say how below)"),
            ),
        ],
        default=PROVE_BY_LINK,
        validators=[InputRequired(lazy_gettext("Say how the identity is proven."))],
    )
    identity_method = _text(
        lazy_gettext(
            'How the identity was checked (e.g. "in person, identity card seen", "phone, '
            'answered the security questions of the account")'
        ),
        1000,
        rows=2,
    )

    def validate_channel(self, field: SelectField) -> None:
        if field.data not in {channel.value for channel in STAFF_CHANNELS}:
            raise StopValidation(lazy_gettext("Choose one of the channels in the list."))

    def validate_request_type(self, field: SelectField) -> None:
        if field.data not in {kind.value for kind in RequestType}:
            raise StopValidation(lazy_gettext("Choose one of the requests in the list."))

    def validate_also_types(self, field: SelectMultipleField) -> None:
        asked = [self.request_type.data, *(field.data or [])]
        if any(value not in {kind.value for kind in RequestType} for value in asked):
            raise StopValidation(lazy_gettext("Choose one of the requests in the list."))
        if len(set(asked)) != len(asked):
            raise StopValidation(lazy_gettext("Each request is asked for once."))

    def validate_language(self, field: SelectField) -> None:
        if field.data not in {language.value for language in Language}:
            raise StopValidation(lazy_gettext("Choose one of the languages in the list."))

    def validate(self, extra_validators: Any = None) -> bool:
        """Check each field, then require the address of a request received by email (the
        email field is otherwise optional, so its own checks stop when it is empty)."""
        valid: bool = super().validate(extra_validators)
        if self.channel.data == Channel.EMAIL.value and not self.email.data:
            self.email.errors = [lazy_gettext("Give the address the email came from.")]
            return False
        return valid

    def validate_contact(self, field: TextAreaField) -> None:
        if not field.data and self.answer_by_post.data:
            raise StopValidation(
                lazy_gettext("The answer is posted: give the postal address to post it to.")
            )
        if not field.data and not self.email.data:
            raise StopValidation(
                lazy_gettext("Without an email address, give the postal address for the answer.")
            )

    def validate_identity_method(self, field: TextAreaField) -> None:
        if field.data:
            return
        if self.proof.data == PROVE_CHECKED:
            raise StopValidation(lazy_gettext("Say how the identity was checked."))
        if not self.email.data:
            raise StopValidation(
                lazy_gettext(
                    "Without an email address no verification email can be sent: say how the "
                    "identity was checked."
                )
            )

    @property
    def identity_checked(self) -> bool:
        """Whether staff recorded the identity check (else the verification email goes)."""
        return self.proof.data == PROVE_CHECKED or not self.email.data


class AnswerPostedForm(Form):
    """The day the answer of a request answered by post was posted."""

    version_id = HiddenField(validators=[InputRequired()])
    posted_on = DateField(
        lazy_gettext("Posted on"),
        validators=[InputRequired(lazy_gettext("Give the day the answer was posted."))],
        render_kw={"type": "date"},
    )

    @property
    def version(self) -> int | None:
        value = self.version_id.data
        return int(value) if isinstance(value, str) and value.isdigit() else None
