"""The forms of delivery: staff send the reports (by link, or with an encrypted PDF); the
requester asks for a code and types it. CSRF is checked for the whole application."""

from __future__ import annotations

from typing import Any

from wtforms import Form, RadioField, StringField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Regexp

from dsr.delivery.models import DeliveryMethod
from dsr.i18n import lazy_gettext


def _digits(value: Any) -> Any:
    return "".join(value.split()) if isinstance(value, str) else value


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


class DownloadCodeForm(Form):
    """The one-time code the requester received by email."""

    code = StringField(
        lazy_gettext("The code we sent you by email"),
        filters=[_digits],
        validators=[
            DataRequired(lazy_gettext("Enter the code.")),
            Regexp(r"^\d{6}$", message=lazy_gettext("The code has 6 digits.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 12},
    )
