"""The views that take a file (a document kept with a request, R44-R46).

Every other form is small text: the application refuses bodies over MAX_CONTENT_LENGTH and
multipart bodies that are not UTF-8 as a whole (`dsr.errors.refuse_undecodable_form`). A view
marked `accepts_upload` may instead receive a body up to DSR_DOCUMENT_MAX_BYTES plus
UPLOAD_FORM_ALLOWANCE, whose text fields (not its file) must be UTF-8 without NUL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "_privacy_desk_accepts_upload"
UPLOAD_FORM_ALLOWANCE = 64 * 1024
"""The form's text fields and multipart framing around the file."""


def accepts_upload(view: F) -> F:
    """Mark `view` as taking a file; put it right under the route decorator."""
    setattr(view, _MARK, True)
    return view


def upload_view() -> bool:
    """Whether this web request goes to a view marked `accepts_upload`."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, _MARK, False))
