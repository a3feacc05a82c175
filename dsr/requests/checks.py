"""What the desk accepts from a requester: `RequestError`, and the checks of each field of a new
request, which trim the input and refuse it with a message written for the requester."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address

from pydantic import ValidationError

from dsr.addresses import EMAIL_MAX
from dsr.languages import Language
from dsr.requests.models import (
    DESIGNEE_NAME_MAX,
    MESSAGE_MAX,
    MESSAGE_REQUIRED,
    RECTIFICATION_MAX,
    DataRequestCreate,
)
from dsr.requests.workflow import RequestType


class RequestError(Exception):
    """Something the requester did that the desk refuses; `message` is written for them."""

    default_message = "This request cannot be accepted."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


def checked_request(
    *,
    email: str,
    request_type: RequestType | str,
    language: str,
    message: str | None,
    rectification: str | None,
    designee_name: str | None = None,
    designee_email: str | None = None,
) -> DataRequestCreate:
    """Return the input of a new request, trimmed and checked; raise RequestError if invalid."""
    address = check_email(email)
    checked_type = _checked_type(request_type)
    language_code = _checked_language(language)
    message = _optional_text(message, MESSAGE_MAX, "Your message")
    rectification = _optional_text(rectification, RECTIFICATION_MAX, "What to correct")
    designee_name = _optional_text(designee_name, DESIGNEE_NAME_MAX, "The designated person's name")
    if designee_email is not None and designee_email.strip():
        designee_email = check_email(designee_email)
    else:
        designee_email = None
    if checked_type in MESSAGE_REQUIRED and not message:
        if checked_type is RequestType.POST_MORTEM:
            raise RequestError("Write your directives.")
        raise RequestError("Explain your particular situation.")
    if checked_type is RequestType.POST_MORTEM and not (designee_name and designee_email):
        raise RequestError("Name the person who will carry out your directives, and their email.")
    if checked_type is not RequestType.POST_MORTEM and (designee_name or designee_email):
        raise RequestError("Only post-mortem directives name a designated person.")
    try:
        return DataRequestCreate(
            type=checked_type,
            requester_email=address,
            language=language_code,
            message=message,
            rectification_details=rectification,
            designee_name=designee_name,
            designee_email=designee_email,
        )
    except ValidationError:
        if checked_type is RequestType.RECTIFICATION:
            raise RequestError("Say what should be corrected in your data.") from None
        raise RequestError("Only a rectification request says what to correct.") from None


def check_email(email: str) -> str:
    """Return the address trimmed; raise RequestError unless it is one plain address."""
    invalid = RequestError("Enter a valid email address, like name@example.org.")
    address = (email or "").strip()
    if not address or len(address) > EMAIL_MAX or any(c.isspace() for c in address):
        raise invalid
    try:
        parsed = Address(addr_spec=address)
    except (HeaderParseError, IndexError, ValueError):
        raise invalid from None
    if not parsed.username or "." not in parsed.domain or parsed.addr_spec != address:
        raise invalid
    return address


def _checked_type(request_type: RequestType | str) -> RequestType:
    try:
        return RequestType(request_type)
    except ValueError:
        raise RequestError("Choose what you ask for among the types of request.") from None


def _checked_language(language: str) -> Language:
    try:
        return Language(language)
    except ValueError:
        raise RequestError("Choose French or English.") from None


def _optional_text(value: str | None, maximum: int, label: str) -> str | None:
    text = (value or "").strip()
    if len(text) > maximum:
        raise RequestError(f"{label} is too long: at most {maximum} characters.")
    return text or None
