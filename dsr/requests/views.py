"""The learner's side: file a request, prove the address, follow the request, cancel or answer.

Thin views over `dsr.requests.service`: each POST validates its form, calls one service function,
and redirects (PRG); the request boundary commits. URLs carry tokens only, never personal data,
and the answer to a submission is the same whether or not the address is known.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]
from werkzeug.datastructures import CombinedMultiDict, FileStorage, MultiDict
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import public_blueprint
from dsr.addresses import normalize_email
from dsr.config import document_max_bytes
from dsr.datamap import organisation_zone
from dsr.db import get_engine, get_session, transaction, utcnow
from dsr.delivery.renewal import renew_link
from dsr.delivery.service import DeliveryRefused
from dsr.documents import service as documents
from dsr.documents.models import DocumentKind
from dsr.extensions import limiter
from dsr.i18n import choose_language, current_language, gettext
from dsr.links import public_url
from dsr.requests import groups, identity_check, service
from dsr.requests.answer_page import SentAnswer, sent_answer
from dsr.requests.checks import RequestError
from dsr.requests.forms import (
    AnswerForm,
    ConfirmForm,
    IdentityDocumentUploadForm,
    RequestForm,
    ResendForm,
    asked_types,
)
from dsr.requests.links import LinkExpired, LinkUsed, current_links
from dsr.requests.models import DataRequest, RequesterRole
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import (
    Action,
    Actor,
    RequestType,
    WorkflowError,
    available_actions,
)
from dsr.sender import Sender, current_sender
from dsr.uploads import accepts_upload
from dsr.worker.enqueue import deliver_after_commit, enqueue_sealed

blueprint = public_blueprint(Blueprint("public", __name__))

_SENT_KEY = "public.sent"


# --- rate limits ----------------------------------------------------------------------------


def _limit_per_address() -> str:
    return str(current_app.config["PUBLIC_LIMIT_PER_ADDRESS"])


def _limit_per_email() -> str:
    return str(current_app.config["PUBLIC_LIMIT_PER_EMAIL"])


def submitted_email_key() -> str:
    """Count the submissions for one email address (hashed: no address kept in the counters);
    a submission without an address is counted with its client address."""
    address = normalize_email(request.form.get("email", ""))
    if not address:
        return f"address:{get_remote_address()}"
    return "email:" + hashlib.sha256(address.encode()).hexdigest()


_per_address = limiter.shared_limit(_limit_per_address, scope="public-mail", methods=["POST"])
_per_email = limiter.shared_limit(
    _limit_per_email, scope="public-mail-email", key_func=submitted_email_key, methods=["POST"]
)
"""Both limits are shared by the forms that send an email (new request, new link)."""


# --- helpers ----------------------------------------------------------------------------------


def _form_data() -> MultiDict[str, str] | None:
    return request.form if request.method == "POST" else None


def _now() -> datetime:
    return utcnow()


def _private(response: AnyResponse) -> AnyResponse:
    """Keep pages reached through a secret link out of caches and Referer headers."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _request_for(token: str) -> DataRequest:
    data_request = service.request_for_status_token(db_session=get_session(), token=token)
    if data_request is not None:
        return data_request
    if service.replaced_status_token(db_session=get_session(), token=token) is not None:
        # An older link of a request: a newer one was emailed (with a question, or asked for).
        page = render_template(
            "public/link_problem.html",
            title=gettext("A newer link replaced this one"),
            explanation=gettext(
                "We emailed you a new link to follow your request, for example with a question "
                "about it: only the most recent link works. Use the link in our latest email, "
                "or ask for a new one below."
            ),
            form=ResendForm(),
        )
        abort(_private(Response(page, status=410)))
    abort(404, description=gettext("This status link is not valid."))


def _link_problem(error: RequestError) -> tuple[str, int]:
    """Render the page of a verification link that cannot be used, offering a new one."""
    if isinstance(error, LinkUsed):
        title = gettext("This link has already been used")
        explanation = gettext(
            "Your email address is already confirmed. Follow your request with the link in the "
            "confirmation email we sent you."
        )
        code = 410
    elif isinstance(error, LinkExpired):
        title = gettext("This link has expired")
        explanation = gettext(
            "Links are valid for %(hours)d hours, and only the most recent one works. Ask for a "
            "new link below.",
            hours=int(current_app.config["VERIFICATION_LINK_MAX_AGE_HOURS"]),
        )
        code = 410
    else:
        title = gettext("This link is not valid")
        explanation = gettext(
            "Check that you copied the whole link from the email, or ask for a new one below."
        )
        code = 400
    page = render_template(
        "public/link_problem.html", title=title, explanation=explanation, form=ResendForm()
    )
    return page, code


# --- filing a request -------------------------------------------------------------------------


def _request_form_data() -> CombinedMultiDict[str, Any] | None:
    """The request form's fields and, when it is made for someone else, its files (R45)."""
    if request.method != "POST":
        return None
    return CombinedMultiDict([request.files, request.form])


def _uploaded(name: str) -> FileStorage | None:
    upload = request.files.get(name)
    return upload if isinstance(upload, FileStorage) and upload.filename else None


def _keep_proofs(form: RequestForm, parts: Sequence[DataRequest], now: datetime) -> bool:
    """Keep the proof sent with a request made for someone else (R45), sealed, with each part of
    the submission (each is checked and approved on its own); False (with the field's error
    set) when a file is refused, and then the caller stores nothing."""
    limit = document_max_bytes(current_app.config)
    box = documents.document_box(current_app.config)
    proof_kind = (
        DocumentKind.PARENTAL_AUTHORITY
        if form.role is RequesterRole.PARENTAL_AUTHORITY
        else DocumentKind.MANDATE
    )
    for field, kind in (
        (form.proof, proof_kind),
        (form.requester_identity, DocumentKind.IDENTITY_DOCUMENT),
    ):
        upload = _uploaded(field.name)
        if upload is None:
            continue
        data = upload.stream.read(limit + 1)
        try:
            for data_request in parts:
                documents.add_document(
                    db_session=get_session(),
                    request=data_request,
                    kind=kind,
                    filename=upload.filename,
                    data=data,
                    box=box,
                    max_bytes=limit,
                    added_by=documents.REQUESTER_LABEL,
                    actor=Actor.REQUESTER,
                    now=now,
                )
        except documents.DocumentRefused as refused:
            field.errors = [str(refused.message)]
            return False
    return True


_BLANK_FORMS_KEY = "dsr.public.blank_request_forms"
_CSRF_SLOT = "csrf-slot-" + secrets.token_hex(16)
"""Stands for the visitor's CSRF token in the blank form kept by `_blank_request_form`."""


def _blank_request_form() -> str:
    """Return the request form as a GET shows it, with this visitor's CSRF token.

    The blank form is the same page for every visitor of a language (and organisation, from the
    map) but for the token: it is rendered once per process and kept with a slot where each
    visitor's token goes (rendering its fields was most of the CPU of a GET, issue 17). A
    visitor with a message waiting to be shown (`flash`) gets the page rendered for them."""
    language = current_language().value
    token = generate_csrf()  # the one the template's csrf_token() returns in this request
    if session.get("_flashes"):
        return render_template("public/request_form.html", form=RequestForm(language=language))
    pages: dict[tuple[str, Sender | None], str] = current_app.extensions.setdefault(
        _BLANK_FORMS_KEY, {}
    )
    key = (language, current_sender())
    kept = pages.get(key)
    if kept is None:
        page = render_template("public/request_form.html", form=RequestForm(language=language))
        pages[key] = page.replace(token, _CSRF_SLOT)  # no visitor's token is kept
        return page
    return kept.replace(_CSRF_SLOT, token)


@blueprint.route("/", methods=["GET", "POST"])
@accepts_upload
@_per_address
@_per_email
def new_request() -> AnyResponse | tuple[str, int]:
    """Show the request form; on POST, file the request and send the email proving the address;
    a request made for someone else keeps its proof with it (R45)."""
    if request.method == "GET":
        return Response(_blank_request_form())
    form = RequestForm(_request_form_data(), language=current_language().value)
    if form.is_from_a_robot:
        session[_SENT_KEY] = "new"  # the same answer as for a person; nothing is stored
        return redirect(url_for("public.request_sent"))
    valid = form.validate()
    if form.for_someone_else.data and _uploaded(form.proof.name) is None:
        form.proof.errors = [gettext("Send the proof that you may act for this person.")]
        valid = False
    if not valid:
        return render_template("public/request_form.html", form=form), 400
    db_session = get_session()
    asked = asked_types(form)
    is_rectification = RequestType.RECTIFICATION.value in asked
    is_post_mortem = RequestType.POST_MORTEM.value in asked
    now = _now()
    try:
        for_someone_else = (
            service.checked_subject(
                form.role,
                form.subject_email.data or "",
                form.subject_name.data or "",
                form.email.data or "",
            )
            if form.role is not RequesterRole.SELF
            else None
        )
        result = service.submit_request(
            db_session=db_session,
            email=form.email.data or "",
            types=asked,
            language=str(form.language.data),
            message=form.message.data or None,
            rectification=(form.rectification.data or None) if is_rectification else None,
            designee_name=(form.designee_name.data or None) if is_post_mortem else None,
            designee_email=(form.designee_email.data or None) if is_post_mortem else None,
            now=now,
            zone=organisation_zone(current_app.config),
            links=current_links(),
            for_someone_else=for_someone_else,
        )
    except RequestError:
        form.form_errors.append(gettext("Your request could not be accepted: check the form."))
        return render_template("public/request_form.html", form=form), 400
    filed = [
        part
        for part in result.parts or (result.request,)
        if result.reused or result.request.id in (part.id, part.group_id)
    ]
    if for_someone_else is not None and not _keep_proofs(form, filed, now):
        db_session.rollback()  # nothing of the request is kept
        return render_template("public/request_form.html", form=form), 400
    deliver_after_commit(db_session)
    session[_SENT_KEY] = "reused" if result.reused else "new"
    return redirect(url_for("public.request_sent"))


@blueprint.get("/sent")
def request_sent() -> str:
    """Say to check the inbox, in the same words whether or not the address is known."""
    return render_template(
        "public/request_sent.html",
        reused=session.pop(_SENT_KEY, "") == "reused",
        hours=int(current_app.config["VERIFICATION_LINK_MAX_AGE_HOURS"]),
    )


@blueprint.route("/resend", methods=["GET", "POST"])
@_per_address
@_per_email
def resend() -> AnyResponse | tuple[str, int]:
    """Ask for a new verification link; the answer does not tell whether a request exists."""
    form = ResendForm(_form_data())
    if request.method == "GET":
        return Response(render_template("public/resend.html", form=form))
    if not form.validate():
        return render_template("public/resend.html", form=form), 400
    email = form.email.data or ""
    enqueue_sealed("resend_verification", email)
    return redirect(url_for("public.resend_sent"))


def resend_verification_links(email: str) -> None:
    """Look the address up and send its new links (a worker's job, off the web request, so that
    the answer takes the same time whether or not a request is waiting for that address)."""
    with transaction(get_engine()) as db_session:
        service.resend_verification(
            db_session=db_session, email=email, now=_now(), links=current_links()
        )
        deliver_after_commit(db_session)


@blueprint.get("/resend/sent")
def resend_sent() -> str:
    return render_template("public/resend_sent.html")


# --- proving the address ----------------------------------------------------------------------


@blueprint.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> AnyResponse | tuple[str, int]:
    """GET asks to confirm (mail scanners that follow links change nothing); POST verifies."""
    if request.method == "GET":
        page = render_template("public/verify.html", form=ConfirmForm(), token=token)
        return _private(Response(page))
    db_session = get_session()
    try:
        _, status_token = service.verify_request(
            db_session=db_session, token=token, now=_now(), links=current_links()
        )
    except RequestError as error:
        return _link_problem(error)
    deliver_after_commit(db_session)
    flash(gettext("Thank you: your email address is confirmed and your request is registered."))
    return _private(redirect(url_for("public.status", token=status_token)))


# --- following the request --------------------------------------------------------------------


def _render_status(
    data_request: DataRequest,
    token: str,
    answer_form: AnswerForm,
    code: int = 200,
    answering: DataRequest | None = None,
    identity_form: IdentityDocumentUploadForm | None = None,
    identity_part: DataRequest | None = None,
) -> AnyResponse:
    """Render the status page; `identity_form` is the identity upload just refused, of
    `identity_part` (another part of the submission) or of the request itself."""
    actions = available_actions(data_request.status, Actor.REQUESTER)
    now = _now()
    awaited, received = _identity_awaited(data_request)
    uploading = identity_part or data_request
    page = render_template(
        "public/status.html",
        data_request=data_request,
        due=data_request.state.due_as_of(now),
        can_cancel=Action.CANCEL in actions,
        can_answer=Action.REQUESTER_ANSWERED in actions,
        answer_form=(
            answer_form if answering is None or answering is data_request else AnswerForm()
        ),
        token=token,
        answer=sent_answer(get_session(), data_request, settings=current_app.config, now=now),
        other_parts=_other_parts(
            data_request, now, answer_form, answering, identity_form, identity_part
        ),
        identity_upload=awaited and not received,
        identity_received=received,
        identity_form=(
            identity_form
            if identity_form is not None and uploading is data_request
            else IdentityDocumentUploadForm()
        ),
    )
    return _private(Response(page, status=code))


def _identity_awaited(request: DataRequest) -> tuple[bool, bool]:
    """Whether `request` waits for an identity document (R46), and whether it was received."""
    awaited = identity_check.identity_document_awaited(get_session(), request)
    received = awaited and bool(identity_check.unchecked_identity_documents(get_session(), request))
    return awaited, received


# --- several things in one request (issue 19) ---


@dataclass(frozen=True)
class PartView:
    """What the status page shows of another part of the same submission."""

    request: DataRequest
    due: datetime
    answer: SentAnswer | None
    can_answer: bool
    answer_form: AnswerForm
    identity_upload: bool = False  # this part waits for the identity document (R46)
    identity_received: bool = False
    identity_form: IdentityDocumentUploadForm | None = None


def _other_parts(
    data_request: DataRequest,
    now: datetime,
    answer_form: AnswerForm,
    answering: DataRequest | None,
    identity_form: IdentityDocumentUploadForm | None = None,
    identity_part: DataRequest | None = None,
) -> list[PartView]:
    db_session = get_session()
    views = []
    for part in groups.other_parts(db_session, data_request):
        awaited, received = _identity_awaited(part)
        views.append(
            PartView(
                request=part,
                due=part.state.due_as_of(now),
                answer=sent_answer(db_session, part, settings=current_app.config, now=now),
                can_answer=Action.REQUESTER_ANSWERED
                in available_actions(part.status, Actor.REQUESTER),
                answer_form=answer_form if answering is part else AnswerForm(),
                identity_upload=awaited and not received,
                identity_received=received,
                identity_form=(
                    identity_form
                    if identity_form is not None and identity_part is part
                    else IdentityDocumentUploadForm()
                ),
            )
        )
    return views


def _part_named(data_request: DataRequest) -> DataRequest:
    """Return the part of `data_request`'s submission that the posted form names (its `part`
    reference), the request itself when it names none; 404 for a part of another submission."""
    reference = request.form.get("part", "")
    if not reference or reference == data_request.reference:
        return data_request
    for part in groups.other_parts(get_session(), data_request):
        if part.reference == reference:
            return part
    abort(404, description=gettext("This request has no such part."))


@blueprint.get("/status/<token>")
def status(token: str) -> AnyResponse:
    """Show where a request stands, with what its requester can do now."""
    return _render_status(_request_for(token), token, AnswerForm())


@blueprint.route("/status/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str) -> AnyResponse:
    """GET asks to confirm the cancellation; POST cancels while it is still allowed."""
    data_request = _request_for(token)
    if request.method == "GET":
        page = render_template(
            "public/cancel.html", data_request=data_request, form=ConfirmForm(), token=token
        )
        return _private(Response(page))
    db_session = get_session()
    try:
        service.cancel_request(db_session=db_session, request=data_request, now=_now())
    except WorkflowError:
        flash(gettext("This request can no longer be cancelled."), "error")
    else:
        deliver_after_commit(db_session)
        flash(gettext("Your request is cancelled. We sent you a confirmation by email."))
    return _private(redirect(url_for("public.status", token=token)))


def _link_renewals_limit() -> str:
    return str(current_app.config["DOWNLOAD_CODES_PER_LINK"])


def _status_page_key() -> str:
    """Count the new links asked for one request (by its status page's path, not the visitor)."""
    return "status-page:" + hashlib.sha256(request.path.encode()).hexdigest()


@blueprint.post("/status/<token>/new-link")
@_per_address
@limiter.limit(_link_renewals_limit, key_func=_status_page_key, methods=["POST"])
def new_download_link(token: str) -> AnyResponse:
    """Email a new link to the answer's files to the request's verified address (the old one
    stops working); 409 when the request has no valid answer to download."""
    data_request = _part_named(_request_for(token))
    db_session = get_session()
    try:
        renew_link(
            db_session=db_session,
            request=data_request,
            now=_now(),
            download_url=lambda new: public_url("delivery.download_page", token=new),
        )
    except DeliveryRefused as error:
        db_session.rollback()
        abort(409, description=str(error.message))
    deliver_after_commit(db_session)
    flash(
        gettext(
            "We sent a new download link to the email address of your request. The previous "
            "link no longer works."
        )
    )
    return _private(redirect(url_for("public.status", token=token)))


@blueprint.post("/status/<token>/answer")
def answer(token: str) -> AnyResponse:
    """Send the requester's answer to staff's question; the deadline's clock resumes."""
    data_request = _request_for(token)
    part = _part_named(data_request)
    form = AnswerForm(request.form)
    if not form.validate():
        return _render_status(data_request, token, form, code=400, answering=part)
    try:
        service.answer_request(
            db_session=get_session(),
            request=part,
            message=form.message.data or "",
            now=_now(),
        )
    except WorkflowError:
        flash(gettext("No answer is expected for this request now."), "error")
    except RequestError:
        form.message.errors = [gettext("Your answer is too long: please shorten it.")]
        return _render_status(data_request, token, form, code=400, answering=part)
    else:
        flash(gettext("Thank you: your answer was sent and we are looking at your request again."))
    return _private(redirect(url_for("public.status", token=token)))


# --- the identity document asked for (R46) ---------------------------------------------------


@blueprint.post("/status/<token>/identity-document")
@accepts_upload
@_per_address
@limiter.limit(_link_renewals_limit, key_func=_status_page_key, methods=["POST"])
def identity_document(token: str) -> AnyResponse:
    """Keep the identity document staff asked for, sealed, for them to check (then delete):
    with the part of the submission the form names (`part`), which waits for it."""
    data_request = _request_for(token)
    part = _part_named(data_request)
    form = IdentityDocumentUploadForm(CombinedMultiDict([request.files, request.form]))

    def again() -> AnyResponse:
        return _render_status(
            data_request, token, AnswerForm(), 400, identity_form=form, identity_part=part
        )

    upload = _uploaded("document")
    if upload is None:
        form.document.errors = [gettext("Choose the file to send.")]
        return again()
    limit = document_max_bytes(current_app.config)
    db_session = get_session()
    try:
        identity_check.receive_identity_document(
            db_session=db_session,
            request=part,
            filename=upload.filename,
            data=upload.stream.read(limit + 1),
            box=documents.document_box(current_app.config),
            max_bytes=limit,
            now=_now(),
        )
    except documents.DocumentRefused as refused:
        db_session.rollback()
        form.document.errors = [str(refused.message)]
        return again()
    except OperationRefused as refused:
        db_session.rollback()
        abort(409, description=str(refused.message))
    flash(gettext("Thank you: your identity document was sent. We will check it, then delete it."))
    return _private(redirect(url_for("public.status", token=token)))


# --- language ---------------------------------------------------------------------------------


def _local_target(target: str | None) -> str:
    """Return `target` when it is a path on this site, else the form's address."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("public.new_request")


@blueprint.get("/lang/<code>")
def switch_language(code: str) -> AnyResponse:
    """Show the pages in `code` from now on and go back to the page the visitor was on."""
    if not choose_language(code):
        abort(404)
    return redirect(_local_target(request.args.get("next")))
