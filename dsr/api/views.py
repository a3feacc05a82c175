"""The JSON API of the learner platform: file, follow and cancel requests for its logged-in
learners, with bearer tokens, idempotent creation, signed status callbacks and RFC 9457 errors.

Thin views over `dsr.requests.api_filing` and `dsr.requests.service`; the request boundary commits
once (an error response rolls everything back, so nothing is stored half-way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TypeVar

from flask import Blueprint, Response, current_app, url_for
from flask import request as http_request
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from dsr import config
from dsr.api import auth
from dsr.api.callback_addresses import allowed_networks_of
from dsr.api.callbacks import callback_secret
from dsr.api.models import ApiToken, StatusCallback
from dsr.api.openapi import openapi_document
from dsr.api.problems import Problem, handle_problem
from dsr.api.schemas import (
    ALLOWED_NETWORKS,
    ClientDocument,
    PartDocument,
    RequestCreate,
    RequestDocument,
    error_items,
)
from dsr.datamap import organisation_zone
from dsr.db import get_session, utcnow
from dsr.extensions import limiter
from dsr.requests import api_filing, groups, service
from dsr.requests.checks import RequestError
from dsr.requests.links import current_links
from dsr.requests.models import IDEMPOTENCY_KEY_MAX, DataRequest
from dsr.requests.status import get_by_reference
from dsr.requests.workflow import Status, WorkflowError
from dsr.suppression.schemas import SuppressionAnswer, SuppressionCheck
from dsr.suppression.service import is_suppressed
from dsr.worker.enqueue import deliver_after_commit

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
ModelT = TypeVar("ModelT", bound=BaseModel)

PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
"""The only endpoint reachable without a token: the API's own description."""

JSON_MEDIA_TYPES = frozenset({"application/json"})
REFERENCE = re.compile(r"[A-Z]{1,8}-\d{4}-\d{1,12}")
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}")
"""Printable ASCII without spaces, as the IETF draft's examples (UUIDs, random strings)."""


def _api_rate_limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT", config.DEFAULTS["API_RATE_LIMIT"]))


limiter.limit(_api_rate_limit, key_func=auth.rate_limit_key)(blueprint)
blueprint.register_error_handler(Problem, handle_problem)


@blueprint.before_request
def _authenticate() -> None:
    """Every endpoint but the OpenAPI document needs a valid token."""
    if http_request.endpoint not in PUBLIC_ENDPOINTS:
        auth.authenticate()


# --- reading the body -------------------------------------------------------------------------


def _json_body() -> object:
    """Return the parsed JSON body; raise a 415, 413 or 400 Problem for anything else."""
    if http_request.mimetype not in JSON_MEDIA_TYPES:
        raise Problem(415, "Send the body as JSON, with `Content-Type: application/json`.")
    charset = http_request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise Problem(415, "Send the body as UTF-8 JSON.")
    raw = http_request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "The body is not UTF-8 text.", slug="not-utf-8") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise Problem(400, "The body is nested too deeply.", slug="invalid-json") from None
    except ValueError:
        raise Problem(400, "The body is not valid JSON.", slug="invalid-json") from None
    if not _is_storable_text(data):
        raise Problem(
            400,
            "The body holds text that cannot be stored (a NUL character or a lone surrogate).",
            slug="invalid-text",
        )
    return data


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _is_storable_text(value: object) -> bool:
    """Tell whether every string in `value` (keys too) is UTF-8-encodable and has no NUL, which
    PostgreSQL refuses: such input is bad input, not a server error."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _validated(model: type[ModelT], data: object) -> ModelT:
    """Return `data` as `model`, or raise the 422 Problem that lists every error found."""
    if not isinstance(data, dict):
        raise Problem(
            422,
            "The body is a JSON object.",
            errors=[{"pointer": "", "detail": "Send a JSON object."}],
        )
    context = {ALLOWED_NETWORKS: allowed_networks_of(current_app.config)}
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise Problem(
            422,
            "The request is not valid: see `errors`.",
            errors=error_items(error.errors(include_input=False, include_url=False)),
        ) from None


def _idempotency_key() -> str | None:
    key = http_request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem(
            400,
            f"The Idempotency-Key header is 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII "
            "characters without spaces, e.g. a UUID.",
            slug="invalid-idempotency-key",
        )
    return key


# --- answers ----------------------------------------------------------------------------------


def _json(
    document: BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(document.model_dump_json(), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _callback_urls(db_session: Session, data_request: DataRequest) -> list[str]:
    return list(
        db_session.exec(
            select(StatusCallback.url)
            .where(StatusCallback.request_id == data_request.id)
            .order_by(col(StatusCallback.position))
        ).all()
    )


def _document(db_session: Session, data_request: DataRequest) -> RequestDocument:
    return RequestDocument(
        reference=data_request.reference,
        subject_request_type=data_request.type,
        status=data_request.status,
        language=data_request.language,
        received_at=data_request.received_at,
        verified_at=data_request.verified_at,
        due_at=data_request.state.due_as_of(utcnow()),
        status_callback_urls=_callback_urls(db_session, data_request),
        parts=[
            PartDocument(
                reference=part.reference, subject_request_type=part.type, status=part.status
            )
            for part in groups.parts_of(db_session, data_request)
        ]
        if data_request.group_id is not None
        else [],
    )


def _location(data_request: DataRequest) -> str:
    return url_for("api.show_request", reference=data_request.reference)


def _own_request(db_session: Session, client: ApiToken, reference: str) -> DataRequest:
    """Return the request `reference` if this client filed it; a 404 Problem otherwise, the same
    whether it does not exist or belongs to another client."""
    found = get_by_reference(db_session, reference) if REFERENCE.fullmatch(reference) else None
    if found is None or found.api_client_id != client.id:
        raise Problem(404, "This client filed no request with this reference.")
    return found


# --- endpoints --------------------------------------------------------------------------------


@blueprint.post("/requests")
def create_request() -> Response:
    """File a verified request for the platform's learner; with an Idempotency-Key, a retry of
    the same request returns it (200) and a different one under the same key is refused (422)."""
    client = auth.current_client()
    key = _idempotency_key()
    wanted = _validated(RequestCreate, _json_body())
    if client.id is None:
        raise RuntimeError("an authenticated client has an id")
    db_session = get_session()
    try:
        result = api_filing.submit_verified_request(
            db_session=db_session,
            email=wanted.subject_identities.email,
            types=wanted.request_types,
            language=wanted.language.value,
            message=wanted.message,
            rectification=wanted.rectification,
            designee_name=wanted.designee_name,
            designee_email=wanted.designee_email,
            api_client_id=client.id,
            api_client_name=client.name,
            idempotency_key=key,
            now=utcnow(),
            zone=organisation_zone(current_app.config),
            links=current_links(),
        )
    except api_filing.IdempotencyConflict as error:
        raise Problem(422, error.message, slug="idempotency-key-reused") from None
    except RequestError as error:
        raise Problem(422, error.message) from None
    data_request = result.request
    if data_request.id is None:
        raise RuntimeError("a filed request has an id")
    location = {"Location": _location(data_request)}
    if result.reused:
        if _callback_urls(db_session, data_request) != wanted.status_callback_urls:
            raise Problem(
                422, api_filing.IdempotencyConflict.default_message, slug="idempotency-key-reused"
            )
        document = _document(db_session, data_request)
        return _json(document, 200, {**location, "Idempotency-Replayed": "true"})
    # Added after the request was created verified: creation itself is not a status change to
    # call back about (the response says it), only what comes next.
    for part in result.parts:  # each part of a submission calls back about its own status
        if part.id is None:
            raise RuntimeError("a filed request has an id")
        for position, url in enumerate(wanted.status_callback_urls):
            db_session.add(StatusCallback(request_id=part.id, position=position, url=url))
    db_session.flush()
    deliver_after_commit(db_session)
    return _json(_document(db_session, data_request), 201, location)


@blueprint.get("/requests/<reference>")
def show_request(reference: str) -> Response:
    """Show one of this client's requests."""
    db_session = get_session()
    data_request = _own_request(db_session, auth.current_client(), reference)
    return _json(_document(db_session, data_request))


@blueprint.delete("/requests/<reference>")
def cancel_request(reference: str) -> Response:
    """Cancel one of this client's requests at its learner's wish (409 once processing has
    started or the request is closed); cancelling a cancelled request changes nothing."""
    db_session = get_session()
    data_request = _own_request(db_session, auth.current_client(), reference)
    if data_request.status is not Status.CANCELLED:
        try:
            service.cancel_request(db_session=db_session, request=data_request, now=utcnow())
        except WorkflowError as error:
            raise Problem(409, error.message, slug="too-late-to-cancel") from None
        deliver_after_commit(db_session)
    return _json(_document(db_session, data_request))


@blueprint.get("/client")
def show_client() -> Response:
    """Show the calling client and the secret that signs its status callbacks."""
    client = auth.current_client()
    if client.id is None:
        raise RuntimeError("an authenticated client has an id")
    secret = callback_secret(str(current_app.config["SECRET_KEY"]), client.id)
    return _json(ClientDocument(name=client.name, status_callback_secret=secret))


@blueprint.post("/suppression/check")
def check_suppression() -> Response:
    """Say whether an address is on the suppression list (R27, R28), so that the platform's
    mailing imports leave it alone; the address itself is neither stored nor logged."""
    wanted = _validated(SuppressionCheck, _json_body())
    return _json(
        SuppressionAnswer(suppressed=is_suppressed(db_session=get_session(), email=wanted.email))
    )


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """Describe the API (OpenAPI 3.1); public, so that clients can be generated from it."""
    response = Response(json.dumps(openapi_document()), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
