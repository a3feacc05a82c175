"""The dashboard's pages for requests received by another channel (R44): record one (admins and
DPOs), and record the day the answer of a request answered by post was posted (R47). A bad form
shows the page again with the errors (400) and stores nothing; success redirects."""

from __future__ import annotations

from io import BytesIO

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.datastructures import CombinedMultiDict, FileStorage
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import acting_staff_label, current_staff, staff_required
from dsr.accounts.models import StaffRole
from dsr.audit.models import record_action
from dsr.config import document_max_bytes
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.channel_forms import (
    ANSWER_CHANNEL_LABELS,
    CHANNEL_LABELS,
    AnswerPostedForm,
    ReceivedRequestForm,
)
from dsr.dashboard.request_page import gather_request_page
from dsr.dashboard.request_views import render_request_page, request_by_reference
from dsr.datamap import organisation_zone
from dsr.db import get_session, utcnow
from dsr.documents import service as documents
from dsr.i18n import gettext
from dsr.languages import translations
from dsr.requests import channels
from dsr.requests.channels import LETTER_PRINTED_ACTION
from dsr.requests.forms import asked_types
from dsr.requests.links import current_links
from dsr.requests.models import AnswerChannel, Channel
from dsr.requests.refusals import OperationRefused, RequestChanged
from dsr.requests.workflow import Actor, RequestType, WorkflowError
from dsr.sender import current_sender
from dsr.uploads import accepts_upload
from exports.answer_letter import AnswerLetter, LetterSender, render_answer_letter

RECORDING_ROLES = (StaffRole.ADMIN, StaffRole.DPO)


def _form_page(form: ReceivedRequestForm, status: int = 200) -> Response:
    return Response(
        render_template("dashboard/record_request.html", form=form, zone=_zone_name()),
        status=status,
    )


def _zone_name() -> str:
    return organisation_zone(current_app.config).key


@blueprint.get("/record-request")
@staff_required(*RECORDING_ROLES)
def record_request() -> AnyResponse:
    """The form of a request received by email, letter, phone or in person."""
    return _form_page(ReceivedRequestForm())


@blueprint.post("/record-request")
@accepts_upload
@staff_required(*RECORDING_ROLES)
def save_received_request() -> AnyResponse:
    """File the request received by another channel; its deadline counts from its receipt."""
    who = acting_staff_label()
    db_session = get_session()
    form = ReceivedRequestForm(CombinedMultiDict([request.files, request.form]))
    if not form.validate():
        return _form_page(form, 400)
    zone = organisation_zone(current_app.config)
    received_at = form.received_at.data
    if received_at is None:  # validated: required
        abort(400)
    upload = request.files.get("file")
    limit = document_max_bytes(current_app.config)
    received_file = None
    if isinstance(upload, FileStorage) and upload.filename:
        received_file = channels.ReceivedFile(
            filename=upload.filename, data=upload.stream.read(limit + 1)
        )
    received = channels.ReceivedRequest(
        channel=Channel(form.channel.data),
        received_at=received_at.replace(tzinfo=zone),
        request_types=[RequestType(kind) for kind in asked_types(form)],
        email=form.email.data or None,
        contact=form.contact.data,
        message=form.message.data,
        rectification=form.rectification.data,
        language=form.language.data or "",
        answer_by_post=bool(form.answer_by_post.data),
        identity_method=form.identity_method.data if form.identity_checked else None,
        designee_name=form.designee_name.data or None,
        designee_email=form.designee_email.data or None,
        received_file=received_file,
    )
    try:
        filed = channels.record_received_request(
            db_session=db_session,
            received=received,
            staff_label=who,
            now=utcnow(),
            zone=zone,
            links=current_links(),
            box=documents.document_box(current_app.config),
            max_bytes=limit,
        )
    except channels.ReceiptRefused as refused:
        db_session.rollback()
        form.received_at.errors = [refused.said(gettext)]
        return _form_page(form, 400)
    except channels.FileRefused as refused:
        db_session.rollback()
        form.file.errors = [refused.said(gettext)]
        return _form_page(form, 400)
    except OperationRefused as refused:
        db_session.rollback()
        form.form_errors.append(refused.said(gettext))
        return _form_page(form, 400)
    references = ", ".join(one.reference for one in filed)
    flash(gettext("The request %(references)s is recorded.", references=references))
    return redirect(url_for("dashboard.request_page", reference=filed[0].reference), 303)


@blueprint.post("/requests/<reference>/answer-posted")
@staff_required(*RECORDING_ROLES)
def answer_posted(reference: str) -> AnyResponse:
    """Complete a request answered by post on the day its answer was posted (audited)."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    form = AnswerPostedForm(request.form)

    def again() -> AnyResponse:
        db_session.rollback()
        page = gather_request_page(data_request, bound=("answer_posted", form))
        return Response(render_request_page(page), status=400)

    if not form.validate() or form.posted_on.data is None:
        return again()
    try:
        channels.record_answer_posted(
            db_session=db_session,
            request=data_request,
            version_id=form.version,
            posted_on=form.posted_on.data,
            staff_label=who,
            now=utcnow(),
        )
    except RequestChanged as changed:
        db_session.rollback()
        flash(gettext(changed.message), "error")
        return redirect(url_for("dashboard.request_page", reference=reference), 303)
    except (OperationRefused, WorkflowError) as refused:
        form.posted_on.errors = [refused.said(gettext)]
        # Said at the top too: a request answered by email shows no form to carry the error.
        flash(gettext("Not done: %(reason)s", reason=refused.said(gettext)), "error")
        return again()
    flash(gettext("The answer is recorded as posted: the request is answered."))
    return redirect(url_for("dashboard.request_page", reference=data_request.reference), 303)


@blueprint.get("/requests/<reference>/answer-letter.pdf")
@staff_required(*RECORDING_ROLES)
def answer_letter(reference: str) -> AnyResponse:
    """Hand over the answer letter of a request answered by post, to print and post: the answer
    the desk would have emailed, under the organisation's sender block and the address given."""
    who = acting_staff_label()
    db_session = get_session()
    data_request = request_by_reference(db_session, reference)
    if data_request.answer_channel is not AnswerChannel.POST or not data_request.answer_letter:
        abort(404)
    sender = current_sender()
    if sender is None:  # the map cannot be read: its checks say why on the map's page
        abort(503)
    zone = data_request.zone
    letter = AnswerLetter(
        reference=data_request.reference,
        language=data_request.language.value,
        dated=utcnow().astimezone(zone).date(),
        recipient=data_request.contact_details,
        text=data_request.answer_letter,
    )
    pdf = render_answer_letter(
        letter,
        LetterSender(
            organisation=sender.organisation,
            dpo=sender.dpo,
            dpo_email=sender.dpo_email,
            dpo_address=sender.dpo_address,
            website=sender.website,
        ),
        translations(data_request.language),
    )
    response = send_file(
        BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{data_request.reference}-letter.pdf",
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    record_action(  # who printed the personal answer, as every opening of a document
        db_session=db_session,
        request=data_request,
        actor=Actor.STAFF,
        actor_label=who,
        action=LETTER_PRINTED_ACTION,
        at=utcnow(),
    )
    return response


@blueprint.app_context_processor
def _channel_globals() -> dict[str, object]:
    """Let templates name a request's channel and answer channel, and link to the form of a
    request received by another channel for the staff who may record one."""

    def record_request_url() -> str | None:
        user = current_staff()
        if user is None or user.role not in RECORDING_ROLES:
            return None
        return url_for("dashboard.record_request")

    return {
        "channel_label": CHANNEL_LABELS.__getitem__,
        "answer_channel_label": ANSWER_CHANNEL_LABELS.__getitem__,
        "record_request_url": record_request_url,
    }
