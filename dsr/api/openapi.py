"""The OpenAPI 3.1 document of the API, built from the same pydantic models that validate the
bodies and shape the answers; served at /api/v1/openapi.json."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from dsr.api.callbacks import (
    EVENT_HEADER,
    MAX_CALLBACK_URLS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from dsr.api.problems import PROBLEM_MEDIA_TYPE
from dsr.api.schemas import (
    ClientDocument,
    ProblemDocument,
    RequestCreate,
    RequestDocument,
    StatusChangedEvent,
)
from dsr.requests.models import IDEMPOTENCY_KEY_MAX
from dsr.suppression.schemas import SuppressionAnswer, SuppressionCheck

API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"

PROBLEMS: dict[str, tuple[int, str]] = {
    "BadRequest": (
        400,
        "The body is not UTF-8 JSON, or holds text that cannot be stored (a NUL character or "
        "a lone surrogate, in a value or a key); the query string holds a NUL character; or a "
        "header is malformed.",
    ),
    "BadQuery": (400, "The query string holds a NUL character, which cannot be stored."),
    "Unauthorized": (401, "The bearer token is missing, unknown or revoked."),
    "NotFound": (404, "No such request among this client's requests."),
    "MethodNotAllowed": (405, "This path does not accept this method (see Allow)."),
    "Conflict": (409, "Too late: the request is being processed or is closed."),
    "ContentTooLarge": (413, "The body is too large."),
    "UnsupportedMediaType": (415, "The body is not sent as application/json."),
    "UnprocessableContent": (
        422,
        "The body is valid JSON but not a valid request (see `errors`), or the "
        "Idempotency-Key was used for a different request.",
    ),
    "TooManyRequests": (429, "Too many calls with this token: wait (see Retry-After)."),
}
"""The problem responses the API can give, each an RFC 9457 document."""


def _problems(*names: str) -> dict[str, Any]:
    return {str(PROBLEMS[name][0]): {"$ref": f"#/components/responses/{name}"} for name in names}


def _json_content(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}}


_COMMON = ("Unauthorized", "MethodNotAllowed", "TooManyRequests")
_REFERENCE_PARAMETER = {"$ref": "#/components/parameters/Reference"}


@cache
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the API (computed once; treat it as read-only)."""
    _, definitions = models_json_schema(
        [
            (RequestCreate, "validation"),
            (RequestDocument, "serialization"),
            (ClientDocument, "serialization"),
            (ProblemDocument, "serialization"),
            (StatusChangedEvent, "serialization"),
            (SuppressionCheck, "validation"),
            (SuppressionAnswer, "serialization"),
        ],
        ref_template=_REF,
    )
    schemas = definitions["$defs"]
    problem_responses = {
        name: {
            "description": description,
            "content": {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="ProblemDocument")}}
            },
        }
        for name, (_, description) in PROBLEMS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Privacy desk API",
            "version": API_VERSION,
            "summary": "File and follow data-subject requests for already authenticated learners.",
            "description": (
                "Every error is an RFC 9457 problem document (`application/problem+json`). "
                "Requests filed here are verified at once: the platform vouches for its learner, "
                "who receives the link of a status page by email."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/v1/requests": {
                "post": {
                    "operationId": "createRequest",
                    "summary": "File a request for a learner",
                    "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                    "requestBody": {"required": True, "content": _json_content("RequestCreate")},
                    "responses": {
                        "201": {
                            "description": "The request, filed and verified.",
                            "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                            "content": _json_content("RequestDocument"),
                        },
                        "200": {
                            "description": (
                                "A retry with the same Idempotency-Key and body: the request "
                                "filed the first time."
                            ),
                            "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                            "content": _json_content("RequestDocument"),
                        },
                        **_problems(
                            "BadRequest",
                            "ContentTooLarge",
                            "UnsupportedMediaType",
                            "UnprocessableContent",
                            *_COMMON,
                        ),
                    },
                },
            },
            "/api/v1/requests/{reference}": {
                "parameters": [_REFERENCE_PARAMETER],
                "get": {
                    "operationId": "getRequest",
                    "summary": "Show one of this client's requests",
                    "responses": {
                        "200": {
                            "description": "The request.",
                            "content": _json_content("RequestDocument"),
                        },
                        **_problems("BadQuery", "NotFound", *_COMMON),
                    },
                },
                "delete": {
                    "operationId": "cancelRequest",
                    "summary": "Cancel one of this client's requests",
                    "responses": {
                        "200": {
                            "description": "The request, cancelled (cancelling twice is harmless).",
                            "content": _json_content("RequestDocument"),
                        },
                        **_problems("BadQuery", "NotFound", "Conflict", *_COMMON),
                    },
                },
            },
            "/api/v1/client": {
                "get": {
                    "operationId": "getClient",
                    "summary": "Show the calling client and its callback signing secret",
                    "responses": {
                        "200": {
                            "description": "The client.",
                            "content": _json_content("ClientDocument"),
                        },
                        **_problems("BadQuery", *_COMMON),
                    },
                },
            },
            "/api/v1/suppression/check": {
                "post": {
                    "operationId": "checkSuppression",
                    "summary": "Tell whether marketing must leave an address alone",
                    "description": (
                        "True for an address whose owner objected to marketing or had their "
                        "data erased: do not send it marketing nor import it again."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": _json_content("SuppressionCheck"),
                    },
                    "responses": {
                        "200": {
                            "description": "Whether the address is suppressed.",
                            "content": _json_content("SuppressionAnswer"),
                        },
                        **_problems(
                            "BadRequest",
                            "ContentTooLarge",
                            "UnsupportedMediaType",
                            "UnprocessableContent",
                            *_COMMON,
                        ),
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApiDocument",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document of the API.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_problems("BadQuery", "MethodNotAllowed", "TooManyRequests"),
                    },
                },
            },
        },
        "webhooks": {
            "statusChanged": {
                "post": {
                    "summary": "Sent to each status callback URL on every status change",
                    "description": (
                        f"Up to {MAX_CALLBACK_URLS} URLs per request. Verify {SIGNATURE_HEADER}: "
                        "`sha256=` + hex HMAC-SHA256, under the client's status_callback_secret, "
                        f"of the {TIMESTAMP_HEADER} value, a dot and the raw body. Answer 2xx; "
                        "anything else is retried with backoff. The same event_id may arrive "
                        "more than once."
                    ),
                    "parameters": [
                        {
                            "name": name,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                        for name in (SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_HEADER)
                    ],
                    "requestBody": {
                        "required": True,
                        "content": _json_content("StatusChangedEvent"),
                    },
                    "responses": {"200": {"description": "Received."}},
                }
            }
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token created with `dsr api token create NAME`.",
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "Makes a retried POST return the request it filed the first time."
                    ),
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": IDEMPOTENCY_KEY_MAX,
                        "pattern": "^[\\x21-\\x7e]+$",
                    },
                },
                "Reference": {
                    "name": "reference",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "examples": ["DSR-2026-000123"]},
                },
            },
            "headers": {
                "Location": {
                    "description": "The address of the request.",
                    "schema": {"type": "string"},
                }
            },
            "responses": problem_responses,
        },
    }
