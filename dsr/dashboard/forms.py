"""The dashboard's forms: the queue's filters and search, one form per action on a request, and
the forms of its reports and of its changes to the organisation's systems, and the admins' form
of an answer template.

Every action form carries the `version_id` of the request as the page showed it, so that an action
taken on a request that changed meanwhile is refused instead of applied twice. The CSRF token of
every POST is checked for the whole application by `dsr.extensions.csrf`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from wtforms import (
    DateField,
    FileField,
    Form,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    ValidationError,
)

from dsr.addresses import EMAIL_MAX
from dsr.answer_templates.models import ANY_TYPE, TEXT_MAX, TITLE_MAX, TemplateKind
from dsr.answer_templates.service import TemplateFields
from dsr.delivery.models import DeliveryMethod
from dsr.i18n import lazy_gettext
from dsr.languages import LANGUAGE_NAMES, Language
from dsr.requests.extension_grounds import ExtensionGround
from dsr.requests.identity_questions import identity_document_asked
from dsr.requests.labels import EXTENSION_GROUND_LABELS, REQUEST_TYPE_LABELS, STAFF_STATUS_LABELS
from dsr.requests.workflow import MAX_EXTENSION_MONTHS, RequestType

REASON_MAX = 2000
NOTE_MAX = 5000


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _printable(value: Any) -> Any:
    """Drop control characters (tabs, line breaks...): no reference or address has any (a NUL
    is refused for the whole application before)."""
    if not isinstance(value, str):
        return value
    return "".join(char for char in value if unicodedata.category(char) != "Cc")


class SearchForm(Form):
    """Find requests by part of their reference or of their requester's email address."""

    query = StringField(
        lazy_gettext("Part of a reference or of an email address"),
        filters=[_printable, _stripped],
        validators=[
            DataRequired(
                lazy_gettext("Type part of a reference or of an email address to search for.")
            ),
            Length(
                max=EMAIL_MAX,
                message=lazy_gettext("Search for at most %(max)d characters.", max=EMAIL_MAX),
            ),
        ],
        render_kw={"maxlength": EMAIL_MAX, "autocomplete": "off", "type": "search"},
    )


MAX_BULK = 200
"""The most requests assigned at once (the queue shows 50 a page)."""


class BulkAssignForm(Form):
    """Assign the requests ticked on the queue to one member of staff. Each box sends
    `<id>:<version>`, the request as the queue showed it."""

    selected = SelectMultipleField(
        validators=[DataRequired(lazy_gettext("Tick at least one request to assign."))],
        validate_choice=False,
    )
    assignee = SelectField(
        lazy_gettext("Assign the selected requests to"),
        validators=[DataRequired(lazy_gettext("Choose who to assign the requests to."))],
        validate_choice=False,
    )

    def __init__(self, *args: Any, staff: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staff = staff
        self.assignee.choices = [
            SelectChoice("", lazy_gettext("Choose…")),
            *(SelectChoice(str(staff_id), label) for staff_id, label in staff),
        ]

    def validate_selected(self, field: Any) -> None:
        if len(field.data or ()) > MAX_BULK:
            raise ValidationError(
                lazy_gettext("Assign at most %(max)d requests at once.", max=MAX_BULK)
            )

    def validate_assignee(self, field: Any) -> None:
        if self.assignee_id is None:
            raise ValidationError(lazy_gettext("Choose who to assign the requests to."))

    @property
    def assignee_id(self) -> int | None:
        value = self.assignee.data
        return int(value) if isinstance(value, str) and value.isdigit() else None

    def shown_versions(self) -> dict[int, int | None]:
        """Return the version each ticked request was shown at, by id (None: a box tampered
        with, which the assignment treats as a request changed meanwhile)."""
        shown: dict[int, int | None] = {}
        for value in self.selected.data or ():
            request_id, _, version = str(value).partition(":")
            if request_id.isdigit():
                shown[int(request_id)] = int(version) if version.isdigit() else None
        return shown


class QueueFilterForm(Form):
    """The queue's filters, sent by GET: none of them is personal data."""

    status = SelectField(lazy_gettext("Status"), validate_choice=False)
    type = SelectField(lazy_gettext("Type"), validate_choice=False)
    assignee = SelectField(lazy_gettext("Assigned to"), validate_choice=False)
    sort = SelectField(
        lazy_gettext("Sort"),
        choices=[
            SelectChoice("due", lazy_gettext("Due date, soonest first")),
            SelectChoice("-due", lazy_gettext("Due date, latest first")),
        ],
        validate_choice=False,
    )

    def __init__(self, *args: Any, staff: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staff = staff
        self.status.choices = [
            SelectChoice("open", lazy_gettext("Open requests")),
            SelectChoice("all", lazy_gettext("All requests")),
            *(SelectChoice(status.value, label) for status, label in STAFF_STATUS_LABELS.items()),
        ]
        self.type.choices = [
            SelectChoice("", lazy_gettext("Every type")),
            *(SelectChoice(kind.value, label) for kind, label in REQUEST_TYPE_LABELS.items()),
        ]
        self.assignee.choices = [
            SelectChoice("", lazy_gettext("Anyone or no one")),
            SelectChoice("none", lazy_gettext("No one")),
            *(SelectChoice(str(staff_id), label) for staff_id, label in staff),
        ]


# --- actions on a request -----------------------------------------------------------------------


class ActionForm(Form):
    """An action with nothing to type: the request's version is all it sends."""

    version_id = HiddenField(validators=[InputRequired()])

    @property
    def version(self) -> int | None:
        """The request's version the form was shown with, or None when it was tampered with."""
        value = self.version_id.data
        return int(value) if isinstance(value, str) and value.isdigit() else None


def _reason_field(label: str, required_message: str) -> TextAreaField:
    return TextAreaField(
        label,
        filters=[_stripped],
        validators=[
            DataRequired(required_message),
            Length(
                max=REASON_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=REASON_MAX),
            ),
        ],
        render_kw={"maxlength": REASON_MAX, "rows": 3},
    )


class VerifyForm(ActionForm):
    """Verify the requester's address by hand: say how it was checked."""

    reason = _reason_field(
        lazy_gettext("How was the address checked?"),
        lazy_gettext("Say how the requester's address was checked."),
    )


class AskForm(ActionForm):
    """Ask the requester for information; the deadline pauses until they answer. Not for an
    identity document: `IdentityDocumentForm` asks for one, with its reason."""

    question = _reason_field(
        lazy_gettext("Your question to the requester (sent by email)"),
        lazy_gettext("Write the question to send."),
    )

    def validate_question(self, field: Any) -> None:
        """Refuse a question that asks for an identity document (R2, Art. 12(6))."""
        asked_for = identity_document_asked(field.data or "")
        if asked_for is not None:
            raise ValidationError(
                lazy_gettext(
                    "This question asks for an identity document (%(phrase)s): use the action "
                    '"Ask for an identity document" instead, which gives the requester the '
                    "written reason (Art. 12(6) of the GDPR).",
                    phrase=asked_for,
                )
            )


class IdentityDocumentForm(ActionForm):
    """Ask for an identity document: only with a written reason (R2, the CNIL's advice)."""

    reason = _reason_field(
        lazy_gettext("Why is an identity document needed? (sent to the requester)"),
        lazy_gettext(
            "Write why an identity document is needed: the email address is the usual proof."
        ),
    )


class ResumeForm(ActionForm):
    """Resume the review with an answer the requester gave another way (phone, letter)."""

    reason = _reason_field(
        lazy_gettext("The requester's answer, as received"),
        lazy_gettext("Write down the answer you received."),
    )


class DenyForm(ActionForm):
    """Refuse the request; the reason is sent to the requester (Art. 12(4))."""

    reason = _reason_field(
        lazy_gettext("Reasons for the refusal (sent to the requester)"),
        lazy_gettext("Give the reasons for the refusal: they are sent to the requester."),
    )


_CHOOSE_A_GROUND = lazy_gettext(
    "Choose the ground of the extension: the complexity of the request or the number of requests."
)


class ExtendForm(ActionForm):
    """Extend the deadline once by one or two months, on one of the grounds Art. 12(3) allows,
    with the explanation sent to the requester."""

    months = IntegerField(
        lazy_gettext("Extension in months"),
        validators=[
            InputRequired(lazy_gettext("Choose one or two months.")),
            NumberRange(1, MAX_EXTENSION_MONTHS, lazy_gettext("Choose one or two months.")),
        ],
        render_kw={"min": 1, "max": MAX_EXTENSION_MONTHS},
    )
    ground = RadioField(
        lazy_gettext("Ground of the extension (Art. 12(3) of the GDPR)"),
        choices=[
            SelectChoice(ground.value, EXTENSION_GROUND_LABELS[ground])
            for ground in ExtensionGround
        ],
        validators=[
            InputRequired(_CHOOSE_A_GROUND),
            AnyOf([ground.value for ground in ExtensionGround], _CHOOSE_A_GROUND),
        ],
        validate_choice=False,
    )
    reason = _reason_field(
        lazy_gettext("Explanation of the extension (sent to the requester)"),
        lazy_gettext("Give the reason for the extension: it is sent to the requester."),
    )


class AssignForm(ActionForm):
    """Give the request to a member of staff, or to no one."""

    assignee = SelectField(lazy_gettext("Assign to"), validate_choice=False)

    def __init__(self, *args: Any, staff: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignee.choices = [
            SelectChoice("", lazy_gettext("No one")),
            *(SelectChoice(str(staff_id), label) for staff_id, label in staff),
        ]

    @property
    def assignee_id(self) -> int | None:
        value = self.assignee.data
        return int(value) if isinstance(value, str) and value.isdigit() else None


class NoteForm(ActionForm):
    """An internal note, kept in the request's audit trail and never sent."""

    note = TextAreaField(
        lazy_gettext("Internal note"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Write the note.")),
            Length(
                max=NOTE_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=NOTE_MAX),
            ),
        ],
        render_kw={"maxlength": NOTE_MAX, "rows": 3},
    )


# --- reports and changes to the organisation's systems --------------------------------------------


class SendReportForm(Form):
    """Send the reports to the requester's verified address."""

    method = RadioField(
        lazy_gettext("How to send"),
        choices=[
            SelectChoice(
                DeliveryMethod.LINK.value,
                lazy_gettext("A download link, opened with a code sent to the same address"),
            ),
            SelectChoice(
                DeliveryMethod.ENCRYPTED.value,
                lazy_gettext(
                    "The same link, with the PDF encrypted: you give the password by another "
                    "channel (phone, post)"
                ),
            ),
        ],
        default=DeliveryMethod.LINK.value,
        validators=[DataRequired()],
    )


class ReasonForm(Form):
    """Reactivate an account, or announce that a restriction will be lifted: how the person
    asked, or why, in staff's words (the service refuses an empty one)."""

    reason = TextAreaField()


class HoldForm(Form):
    """Keep categories of the person's data for a legal claim (Art. 17(3)(e)): which, why and
    until when; the choices are the map's categories."""

    categories = SelectMultipleField(
        lazy_gettext("Categories of data to keep"),
        validators=[DataRequired(lazy_gettext("Choose at least one category to keep."))],
    )
    reason = _reason_field(
        lazy_gettext("The legal claim the data is kept for"),
        lazy_gettext("Say which legal claim the data is kept for."),
    )
    ends_on = DateField(
        lazy_gettext("Kept until (inclusive)"),
        validators=[InputRequired(lazy_gettext("Give the last day of the hold."))],
        render_kw={"type": "date"},
    )

    def __init__(self, *args: Any, categories: Sequence[tuple[str, str]] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.categories.choices = [SelectChoice(value, label) for value, label in categories]


class LiftHoldForm(Form):
    """End a legal hold before its date, with the reason."""

    hold_id = HiddenField(validators=[InputRequired()])
    reason = _reason_field(
        lazy_gettext("Why is the hold lifted early?"),
        lazy_gettext("Say why the hold is lifted before its date."),
    )

    @property
    def hold(self) -> int | None:
        value = self.hold_id.data
        return int(value) if isinstance(value, str) and value.isdigit() else None


class DocumentForm(Form):
    """Keep a document with the request: the letter or email it came in, a mandate, a proof of
    parental authority, an identity document (the service checks its type and size)."""

    kind = SelectField(
        lazy_gettext("What the document is"),
        validators=[DataRequired(lazy_gettext("Say what the document is."))],
    )
    file = FileField(lazy_gettext("File (PDF, PNG, JPEG or plain text)"))

    def __init__(self, *args: Any, kinds: Sequence[tuple[str, str]] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice(value, label) for value, label in kinds]


class RemoveDocumentForm(Form):
    """Delete a document's content before the request's retention ends, with the reason; one
    per document on the page, each with its own prefix (`removal_prefix`)."""

    reason = _reason_field(
        lazy_gettext("Why is the document deleted?"),
        lazy_gettext("Say why the document is deleted."),
    )


def removal_prefix(document_id: int) -> str:
    return f"document-{document_id}-"


RECTIFICATION_FIELD_PREFIX = "value:"


class RectificationForm(Form):
    """The new values of a rectification, one text field per field the map marks rectifiable,
    named `value:<system>:<table.column>`; an empty value withdraws the one approved before.

    The fields depend on the map: build the form with `for_fields`."""

    posted: Mapping[str, str] = MappingProxyType({})
    """Everything the request posted, field by field (set by `for_fields`)."""

    @staticmethod
    def field_name(system: str, column: str) -> str:
        return f"{RECTIFICATION_FIELD_PREFIX}{system}:{column}"

    @classmethod
    def for_fields(
        cls, values: Mapping[tuple[str, str], str], formdata: Any = None
    ) -> RectificationForm:
        """Return a form with a field per (system, `table.column`) of `values`, showing those
        values, or what `formdata` posted."""
        fields = {
            cls.field_name(system, column): StringField(render_kw={"maxlength": REASON_MAX})
            for system, column in values
        }
        form_class = type("MapRectificationForm", (cls,), fields)
        data = {cls.field_name(system, column): value for (system, column), value in values.items()}
        form: RectificationForm = form_class(formdata, data=data)
        form.posted = MappingProxyType(dict(formdata.items()) if formdata is not None else {})
        return form

    def values(self) -> dict[tuple[str, str], str | None]:
        """Return the posted values by (system, `table.column`); a field not posted is left
        out, so that its approved value stays as it is. A posted field the map does not mark
        rectifiable is returned too, so that the service refuses the save naming it, rather than
        the desk dropping it without a word."""
        posted: dict[tuple[str, str], str | None] = {}
        for item in self:
            if item.raw_data:
                posted[_rectified_key(item.name)] = item.data
        for name, value in self.posted.items():
            if name.startswith(RECTIFICATION_FIELD_PREFIX) and name not in self:
                posted[_rectified_key(name)] = value
        return posted


def _rectified_key(name: str) -> tuple[str, str]:
    system, _, column = name.removeprefix(RECTIFICATION_FIELD_PREFIX).partition(":")
    return system, column


# --- answer templates (admins) --------------------------------------------------------------------

TEMPLATE_KIND_LABELS: Mapping[TemplateKind, str] = MappingProxyType(
    {
        TemplateKind.QUESTION: lazy_gettext("Question to the requester"),
        TemplateKind.REFUSAL: lazy_gettext("Reasons for a refusal"),
    }
)


class AnswerTemplateForm(Form):
    """An answer template: its kind, the request type it fits (or any), its language, title and
    text."""

    kind = SelectField(
        lazy_gettext("Used for"),
        choices=[SelectChoice(kind.value, label) for kind, label in TEMPLATE_KIND_LABELS.items()],
        validators=[
            AnyOf([kind.value for kind in TemplateKind], lazy_gettext("Choose what it is for."))
        ],
        validate_choice=False,
    )
    request_type = SelectField(
        lazy_gettext("Request type"),
        choices=[
            SelectChoice(ANY_TYPE, lazy_gettext("Any type")),
            *(SelectChoice(kind.value, label) for kind, label in REQUEST_TYPE_LABELS.items()),
        ],
        validators=[
            AnyOf(
                [ANY_TYPE, *(kind.value for kind in RequestType)],
                lazy_gettext("Choose a request type."),
            )
        ],
        validate_choice=False,
    )
    language = SelectField(
        lazy_gettext("Language of the requester"),
        choices=[SelectChoice(language.value, LANGUAGE_NAMES[language]) for language in Language],
        validators=[
            AnyOf([language.value for language in Language], lazy_gettext("Choose a language."))
        ],
        validate_choice=False,
    )
    title = StringField(
        lazy_gettext("Title (shown to staff only)"),
        filters=[_printable, _stripped],
        validators=[
            DataRequired(lazy_gettext("Give the template a title.")),
            Length(
                max=TITLE_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=TITLE_MAX),
            ),
        ],
        render_kw={"maxlength": TITLE_MAX},
    )
    text = TextAreaField(
        lazy_gettext("Text (sent to the requester once staff send it)"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Write the text of the template.")),
            Length(
                max=TEXT_MAX,
                message=lazy_gettext("Please keep this under %(max)d characters.", max=TEXT_MAX),
            ),
        ],
        render_kw={"maxlength": TEXT_MAX, "rows": 6},
    )

    def fields(self) -> TemplateFields:
        """What the form says, once validated."""
        return TemplateFields(
            kind=TemplateKind(self.kind.data),
            request_type=str(self.request_type.data),
            language=Language(self.language.data),
            title=self.title.data or "",
            text=self.text.data or "",
        )
