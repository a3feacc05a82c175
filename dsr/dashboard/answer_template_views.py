"""The admins' pages of answer templates: the list with the form of a new one, the form that
changes one, and deleting one. Every route is for admins only (others get 403); each change is
recorded in the audit log (`dsr.answer_templates.service`). Staff use the templates on a request's
page (`request_page`)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole
from dsr.answer_templates import service
from dsr.answer_templates.models import AnswerTemplate
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.forms import TEMPLATE_KIND_LABELS, AnswerTemplateForm
from dsr.db import get_session, utcnow
from dsr.i18n import gettext
from dsr.languages import LANGUAGE_NAMES
from dsr.requests.labels import REQUEST_TYPE_LABELS


def _admin_label() -> str:
    user = current_staff()
    if user is None:
        abort(403)
    return user.email


def type_label(request_type: str) -> str:
    """A template's request type as staff read it."""
    for kind, label in REQUEST_TYPE_LABELS.items():
        if kind.value == request_type:
            return str(label)
    return gettext("Any type")


def _list_page(form: AnswerTemplateForm, code: int = 200) -> AnyResponse:
    page = render_template(
        "dashboard/answer_templates.html",
        templates=service.list_templates(get_session()),
        form=form,
        kind_labels=TEMPLATE_KIND_LABELS,
        language_names=LANGUAGE_NAMES,
        type_label=type_label,
    )
    return Response(page, status=code)


def _edit_page(template: AnswerTemplate, form: AnswerTemplateForm, code: int = 200) -> AnyResponse:
    page = render_template("dashboard/answer_template.html", template=template, form=form)
    return Response(page, status=code)


def _template(template_id: int) -> AnswerTemplate:
    template = get_session().get(AnswerTemplate, template_id)
    if template is None:
        abort(404)
    return template


def _refused(form: AnswerTemplateForm, error: service.TemplateRefused) -> None:
    """Show why the service refused the template, on the field it concerns."""
    get_session().rollback()
    if isinstance(error, service.DuplicateTitle):
        form.title.errors = [
            gettext("A template of this kind, type and language has this title already.")
        ]
    else:
        form.form_errors.append(gettext("Not done: %(reason)s", reason=error.message))


@blueprint.get("/answer-templates")
@staff_required(StaffRole.ADMIN)
def answer_templates() -> AnyResponse:
    """List the templates, with the form of a new one."""
    return _list_page(AnswerTemplateForm())


@blueprint.post("/answer-templates")
@staff_required(StaffRole.ADMIN)
def create_answer_template() -> AnyResponse:
    form = AnswerTemplateForm(request.form)
    if not form.validate():
        return _list_page(form, 400)
    try:
        service.create_template(
            db_session=get_session(),
            fields=form.fields(),
            staff_label=_admin_label(),
            now=utcnow(),
        )
    except service.TemplateRefused as error:
        _refused(form, error)
        return _list_page(form, 400)
    flash(gettext("The template is saved."))
    return redirect(url_for("dashboard.answer_templates"), 303)


@blueprint.get("/answer-templates/<int:template_id>")
@staff_required(StaffRole.ADMIN)
def edit_answer_template(template_id: int) -> AnyResponse:
    template = _template(template_id)
    form = AnswerTemplateForm(
        data={
            "kind": template.kind.value,
            "request_type": template.request_type,
            "language": template.language.value,
            "title": template.title,
            "text": template.text,
        }
    )
    return _edit_page(template, form)


@blueprint.post("/answer-templates/<int:template_id>")
@staff_required(StaffRole.ADMIN)
def update_answer_template(template_id: int) -> AnyResponse:
    template = _template(template_id)
    form = AnswerTemplateForm(request.form)
    if not form.validate():
        return _edit_page(template, form, 400)
    try:
        service.update_template(
            db_session=get_session(),
            template=template,
            fields=form.fields(),
            staff_label=_admin_label(),
            now=utcnow(),
        )
    except service.TemplateRefused as error:
        _refused(form, error)
        return _edit_page(_template(template_id), form, 400)
    flash(gettext("The template is saved."))
    return redirect(url_for("dashboard.answer_templates"), 303)


@blueprint.post("/answer-templates/<int:template_id>/delete")
@staff_required(StaffRole.ADMIN)
def delete_answer_template(template_id: int) -> AnyResponse:
    template = _template(template_id)
    service.delete_template(
        db_session=get_session(), template=template, staff_label=_admin_label(), now=utcnow()
    )
    flash(gettext("The template is deleted."))
    return redirect(url_for("dashboard.answer_templates"), 303)
