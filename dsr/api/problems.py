"""RFC 9457 problem documents: every error under /api/ is `application/problem+json`, never an
HTML page, whatever raised it (a view, the router, the body's size limit, the rate limiter)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

API_PREFIX = "/api/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://privacy-desk.invalid/problems/"
"""Problem types are URIs that name the kind of problem; they are identifiers, not pages."""

DETAILS: Mapping[int, str] = {
    400: "The request could not be read.",
    401: "Send a valid API token: `Authorization: Bearer dsr_...`.",
    403: "This token may not do this.",
    404: "There is nothing at this address, or it is not yours.",
    405: "This address does not accept this method: see the Allow header.",
    413: "The request body is too large.",
    415: "Send the body as JSON, with `Content-Type: application/json`.",
    429: "Too many requests with this token: wait and try again (see Retry-After).",
    500: "Something went wrong on our side: try again later.",
}
"""What each error means for an API client, when the code that raised it says nothing more."""

SLUGS: Mapping[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    429: "too-many-requests",
    500: "internal-error",
}


class Problem(Exception):
    """An error to answer with a problem document; `detail` is written for the client's developer.

    `errors` lists what is wrong in the body, each with a JSON `pointer` and its `detail`.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or SLUGS.get(status, "error")
        self.title = title or HTTP_STATUS_CODES.get(status, "Error")
        self.errors = list(errors)
        self.headers = dict(headers or {})


def is_api_request() -> bool:
    """Tell whether the current request is for the API (its errors are problem documents)."""
    return request.path == API_PREFIX.rstrip("/") or request.path.startswith(API_PREFIX)


def problem_response(problem: Problem) -> Response:
    """Return the problem document of `problem`, with its headers."""
    document: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
    }
    if problem.errors:
        document["errors"] = problem.errors
    response = Response(json.dumps(document), status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def http_problem(error: HTTPException) -> Response:
    """Answer an HTTP error raised anywhere under /api/ with its problem document, keeping its
    headers (Allow, Retry-After, WWW-Authenticate)."""
    code = error.code or 500
    detail = DETAILS.get(code, HTTP_STATUS_CODES.get(code, "Error"))
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    return problem_response(Problem(code, detail, headers=headers))


def handle_problem(problem: Problem) -> Response:
    """The error handler of `Problem`, for the API's views."""
    return problem_response(problem)
