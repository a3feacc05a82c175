"""The form of the requester's download page: the one-time code they received by email. CSRF is
checked for the whole application; staff send the reports with `dsr.dashboard.forms`."""

from __future__ import annotations

from typing import Any

from wtforms import Form, StringField
from wtforms.validators import DataRequired, Regexp

from dsr.i18n import lazy_gettext


def _digits(value: Any) -> Any:
    return "".join(value.split()) if isinstance(value, str) else value


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
