"""The actions of a request's page on its documents: add one (sealed in the store), open one
(staff who work requests only, audited) and delete one's content with a reason. A bad form or a
refused file shows the page again with the errors (400) and stores nothing; success redirects."""

from __future__ import annotations

from io import BytesIO

from flask import Response, abort, current_app, flash, redirect, request, send_file, url_for
from werkzeug.datastructures import CombinedMultiDict, FileStorage
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import acting_staff_label, staff_required
from dsr.accounts.models import StaffRole
from dsr.config import document_max_bytes
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.document_panel import kind_choices
from dsr.dashboard.forms import DocumentForm, RemoveDocumentForm, removal_prefix
from dsr.dashboard.request_page import gather_request_page
from dsr.dashboard.request_views import render_request_page, request_by_reference
from dsr.db import get_session, utcnow
from dsr.documents import service
from dsr.documents.models import DocumentKind, RemovalCause, RequestDocument
from dsr.i18n import gettext
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor
from dsr.uploads import accepts_upload


def _again(data_request: DataRequest, form: DocumentForm | RemoveDocumentForm) -> AnyResponse:
    get_session().rollback()
    page = gather_request_page(data_request, bound=("document", form))
    return Response(render_request_page(page), status=400)


@blueprint.post("/requests/<reference>/documents")
@accepts_upload
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def add_document(reference: str) -> AnyResponse:
    """Keep a document with the request, sealed in the store."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = DocumentForm(CombinedMultiDict([request.files, request.form]), kinds=kind_choices())
    if not form.validate():
        return _again(data_request, form)
    upload = request.files.get("file")
    if not isinstance(upload, FileStorage) or not upload.filename:
        form.file.errors = [gettext("Choose the file to keep.")]
        return _again(data_request, form)
    limit = document_max_bytes(current_app.config)
    try:
        service.add_document(
            db_session=db_session,
            request=data_request,
            kind=DocumentKind(form.kind.data),
            filename=upload.filename,
            data=upload.stream.read(limit + 1),
            box=service.document_box(current_app.config),
            max_bytes=limit,
            added_by=who,
            actor=Actor.STAFF,
            now=utcnow(),
        )
    except service.DocumentRefused as refused:
        form.file.errors = [str(refused.message)]
        return _again(data_request, form)
    flash(gettext("The document is kept with the request, encrypted."))
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)


@blueprint.get("/requests/<reference>/documents/<int:document_id>")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def open_document(reference: str, document_id: int) -> AnyResponse:
    """Hand a document to the staff member who asked, as a download (audited)."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    opened = service.open_document(
        db_session=db_session,
        request=data_request,
        document_id=document_id,
        box=service.document_box(current_app.config),
        staff_label=who,
        now=utcnow(),
    )
    if opened is None:
        abort(404)
    response = send_file(
        BytesIO(opened.data),
        mimetype=opened.content_type,
        as_attachment=True,
        download_name=opened.name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.post("/requests/<reference>/documents/<int:document_id>/remove")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def remove_document(reference: str, document_id: int) -> AnyResponse:
    """Delete a document's content before the request's retention ends, with the reason."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    document = db_session.get(RequestDocument, document_id)
    if document is None or document.request_id != data_request.id:
        abort(404)
    form = RemoveDocumentForm(request.form, prefix=removal_prefix(document_id))
    if document.removed:
        abort(409, description=gettext("This document's content is already deleted."))
    if not form.validate():
        return _again(data_request, form)
    service.remove_document(
        db_session=db_session,
        request=data_request,
        document=document,
        cause=RemovalCause.STAFF,
        now=utcnow(),
        actor=Actor.STAFF,
        actor_label=who,
        reason=form.reason.data,
    )
    flash(gettext("The document's content is deleted; the history keeps that it was received."))
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)
