"""The register of data-subject requests to download (issue 18): a form of the period (from and
to, days on the organisation's calendar), the language and the format, sent by GET (it changes
nothing and holds no personal data); a valid one downloads the register, an invalid one is shown
again with what to correct (400). For DPOs and admins only.
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Any

from flask import Response, abort, current_app, render_template, request
from wtforms import DateField, Form, SelectField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import AnyOf, InputRequired

from dsr.accounts.access import staff_required
from dsr.accounts.models import StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.datamap import desk_map
from dsr.db import get_session, utcnow
from dsr.i18n import current_language, gettext, lazy_gettext
from dsr.requests.register import Period, PeriodError, request_register
from dsr.requests.register_files import FORMATS, register_file
from inventory.loader import MapError

_LANGUAGES = (("fr", "Français"), ("en", "English"))


class _DayField(DateField):
    """A day as YYYY-MM-DD; anything else is refused with a message in the reader's language."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(gettext("Give a date as YYYY-MM-DD, e.g. 2026-03-31.")) from None


def _day(label: str, missing: str) -> _DayField:
    return _DayField(label, validators=[InputRequired(missing)], render_kw={"type": "date"})


class RequestRegisterForm(Form):
    """The period, language and format of the register to download."""

    since = _day(lazy_gettext("Received from"), lazy_gettext("Give the first day of the period."))
    until = _day(lazy_gettext("To (inclusive)"), lazy_gettext("Give the last day of the period."))
    language = SelectField(
        lazy_gettext("Language"),
        choices=[SelectChoice(code, name) for code, name in _LANGUAGES],
        validators=[
            AnyOf([code for code, _name in _LANGUAGES], lazy_gettext("Choose French or English."))
        ],
        validate_choice=False,
    )
    format = SelectField(
        lazy_gettext("Format"),
        choices=[SelectChoice(fmt, fmt.upper()) for fmt in FORMATS],
        validators=[AnyOf(list(FORMATS), lazy_gettext("Choose CSV, XLSX or PDF."))],
        validate_choice=False,
    )

    def period(self, zone: tzinfo) -> Period | None:
        """The checked period on the calendar of `zone`, or None with the reason added to the
        errors of `until`."""
        assert isinstance(self.since.data, date) and isinstance(self.until.data, date)  # noqa: S101
        try:
            return Period.checked(self.since.data, self.until.data, zone)
        except PeriodError as error:
            self.until.errors = [*self.until.errors, gettext(error.message, **error.values)]
            return None


def _blank_form(zone: tzinfo) -> RequestRegisterForm:
    """The form as first shown: the last full calendar month, in the reader's language, PDF."""
    today = utcnow().astimezone(zone).date()
    last = today.replace(day=1) - timedelta(days=1)
    return RequestRegisterForm(
        data={
            "since": last.replace(day=1),
            "until": last,
            "language": current_language().value,
            "format": "pdf",
        }
    )


@blueprint.get("/requests-register")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def requests_register() -> Response | tuple[str, int]:
    """Show the form, or download the register of the period it names."""
    try:
        organisation = desk_map(current_app.config).organisation
    except MapError:
        abort(503, description=gettext("The data map cannot be loaded: see the data map page."))
    if not request.args:
        form = _blank_form(organisation.zone)
        return render_template("dashboard/requests_register.html", form=form), 200
    form = RequestRegisterForm(request.args)
    period = form.period(organisation.zone) if form.validate() else None
    if period is None:
        return render_template("dashboard/requests_register.html", form=form), 400
    made = request_register(db_session=get_session(), period=period, now=utcnow())
    fmt, language = form.format.data or "pdf", form.language.data or "fr"
    body = register_file(made, fmt, language, organisation=organisation.name)
    response = Response(body, mimetype=FORMATS[fmt])
    name = f"requests-register-{period.first.isoformat()}-{period.last.isoformat()}-{language}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
