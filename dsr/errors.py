"""The error pages people see, in their language: every 4xx says what went wrong and what to do
next, and nothing a visitor sends can produce anything worse than one of them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, abort, current_app, make_response, render_template, request
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from werkzeug.exceptions import HTTPException, SecurityError

from dsr.api import problems
from dsr.config import document_max_bytes
from dsr.i18n import lazy_gettext
from dsr.uploads import UPLOAD_FORM_ALLOWANCE, upload_view

ERROR_PAGES: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        400: (
            lazy_gettext("We could not read what was sent"),
            lazy_gettext("Something in the form was not right. Go back and try again."),
        ),
        403: (
            lazy_gettext("Not allowed"),
            lazy_gettext("You cannot see this page."),
        ),
        404: (
            lazy_gettext("Page not found"),
            lazy_gettext("This page does not exist, or the link is no longer valid."),
        ),
        405: (
            lazy_gettext("This page cannot be used this way"),
            lazy_gettext("Go back to the form and send it again."),
        ),
        410: (
            lazy_gettext("This link is no longer valid"),
            lazy_gettext("The link has expired or has already been used."),
        ),
        413: (
            lazy_gettext("What you sent is too long"),
            lazy_gettext("Shorten your text and send it again."),
        ),
        429: (
            lazy_gettext("Too many attempts"),
            lazy_gettext(
                "To protect everyone's data we limit how many requests can be sent from one "
                "connection or for one email address. Please wait an hour and try again."
            ),
        ),
        500: (
            lazy_gettext("Something went wrong on our side"),
            lazy_gettext("Please try again in a few minutes."),
        ),
    }
)
"""The title and explanation of each error page, by status code."""

CSRF_EXPLANATION = lazy_gettext(
    "The form was sent without its security token, or the token has expired. Go back, reload "
    "the page and send the form again."
)

NOT_UTF8 = lazy_gettext("The form was not sent as UTF-8 text. Reload the page and send it again.")

UNKNOWN_HOST = lazy_gettext(
    "This address is not the privacy desk's: open the desk from the link you were given."
)

NUL_CHARACTER = lazy_gettext(
    "What was sent holds a NUL character, which cannot be stored. Remove it and try again."
)


def render_error(error: HTTPException) -> Response | HTTPException:
    """Render the page of an HTTP error, keeping its headers (Allow, Retry-After); under /api/,
    answer with the API's problem document instead of a page."""
    code = error.code
    if code is None or code < 400:
        return error
    if isinstance(error, SecurityError):  # no page: nothing can be linked on an unknown host
        refusal = UNKNOWN_HOST + "\n"
        return make_response((refusal, 400, {"Content-Type": "text/plain; charset=utf-8"}))
    if problems.is_api_request():
        return problems.http_problem(error)
    title, explanation = ERROR_PAGES.get(code, ERROR_PAGES[500 if code >= 500 else 400])
    detail: str | None = None
    if isinstance(error, CSRFError):
        detail = CSRF_EXPLANATION
    elif code != 429 and error.description != type(error).description:
        detail = error.description  # set by our views, already in the visitor's language
    response = make_response(
        render_template(
            "errors/error.html", code=code, title=title, explanation=explanation, detail=detail
        ),
        code,
    )
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def refuse_untrusted_host() -> None:
    """Answer 400 at once to a request for a host outside TRUSTED_HOSTS (production: a forged
    Host), before another hook builds a URL on it."""
    if isinstance(request.routing_exception, SecurityError):
        raise request.routing_exception


def refuse_nul_characters() -> None:
    """Refuse a URL holding a NUL character (404 in the path, 400 in the query): PostgreSQL
    cannot even compare text with one, so a lookup would fail with a 500, and nobody types one."""
    if "\x00" in request.path:
        abort(404)
    if any("\x00" in key + value for key, value in request.args.items(multi=True)):
        abort(400, description=NUL_CHARACTER)


def refuse_undecodable_form() -> None:
    """Refuse (400) a form body that is not UTF-8, which parsing would otherwise quietly mangle,
    or that holds a NUL character, which PostgreSQL cannot store in text.

    The body is kept (`cache=True`) for the form parser; one over MAX_CONTENT_LENGTH is a 413.
    """
    if request.mimetype not in _FORM_TYPES:
        return
    if request.mimetype == "multipart/form-data" and upload_view():
        request.max_content_length = document_max_bytes(current_app.config) + UPLOAD_FORM_ALLOWANCE
        texts = [value for _key, value in request.form.items(multi=True)]
        if any("\ufffd" in text for text in texts):  # the parser replaced undecodable bytes
            abort(400, description=NOT_UTF8)
        if any("\x00" in text for text in texts):
            abort(400, description=NUL_CHARACTER)
        return
    body = request.get_data(cache=True)
    try:
        if request.mimetype == "multipart/form-data":
            fields = [body.decode("utf-8")]  # no file fields here: every part is text
        else:
            fields = [
                unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
                for pair in body.split(b"&")
            ]
    except UnicodeDecodeError:
        abort(400, description=NOT_UTF8)
    if any("\x00" in field for field in fields):
        abort(400, description=NUL_CHARACTER)


def init_app(app: Flask) -> None:
    """Show our page for every HTTP error, and refuse URLs and forms holding a NUL character or
    undecodable forms before anything reads them (call before the CSRF check is bound, which
    reads the form)."""
    app.register_error_handler(HTTPException, render_error)
    app.before_request(refuse_untrusted_host)
    app.before_request(refuse_nul_characters)
    app.before_request(refuse_undecodable_form)
