"""The API's documents as pydantic models: they validate what clients send, shape what the API
answers, and generate the schemas of the OpenAPI document, so the three cannot drift apart.

Field names follow the OpenDSR vocabulary where it has one (`subject_request_type`,
`subject_identities`, `status_callback_urls`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from dsr.addresses import EMAIL_MAX
from dsr.api.callback_addresses import parse_allowed_networks
from dsr.api.callbacks import MAX_CALLBACK_URLS, check_callback_url
from dsr.api.models import CALLBACK_URL_MAX
from dsr.languages import Language
from dsr.requests.checks import RequestError, check_email
from dsr.requests.models import DESIGNEE_NAME_MAX, MESSAGE_MAX, RECTIFICATION_MAX
from dsr.requests.workflow import RequestType, Status

ALLOWED_NETWORKS = "allowed_networks"
"""The validation context's key holding the internal networks callback URLs may reach."""


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(_utc_text, return_type=str)]


class SubjectIdentities(BaseModel):
    """How the platform knows its learner: the email address of their account."""

    model_config = ConfigDict(extra="forbid")

    email: StrictStr = Field(
        max_length=EMAIL_MAX,
        description="The learner's email address, as their account on the platform has it.",
        examples=["zoe.lefevre@example.org"],
    )

    @field_validator("email")
    @classmethod
    def _one_plain_address(cls, email: str) -> str:
        try:
            return check_email(email)
        except RequestError as error:
            raise PydanticCustomError("invalid_email", error.message) from None


class RequestCreate(BaseModel):
    """A request filed for a learner the platform has already authenticated."""

    model_config = ConfigDict(extra="forbid")

    # several things in one request (issue 19)
    subject_request_types: list[RequestType] | None = Field(
        default=None,
        min_length=1,
        max_length=len(RequestType),
        description=(
            "Several things the learner asks for at once, each type at most once, instead of "
            "`subject_request_type`: each becomes a request of its own (its reference, status "
            "and answer), listed in `parts`; the response shows the first one. An erasure or a "
            "deactivation waits for the access or portability asked for with it."
        ),
        json_schema_extra={"uniqueItems": True},
    )
    subject_request_type: RequestType | None = Field(
        default=None,
        validate_default=True,
        description="What the learner asks for; or give `subject_request_types` for several.",
    )
    subject_identities: SubjectIdentities
    language: Language = Field(
        default=Language.FR, description="The language the learner is written to in."
    )
    message: StrictStr | None = Field(
        default=None, max_length=MESSAGE_MAX, description="The learner's message, if any."
    )
    rectification: StrictStr | None = Field(
        default=None,
        max_length=RECTIFICATION_MAX,
        validate_default=True,
        description="What to correct: required for a rectification, refused otherwise.",
    )
    designee_name: StrictStr | None = Field(
        default=None,
        max_length=DESIGNEE_NAME_MAX,
        description=(
            "Post-mortem directives (`post_mortem`, whose `message` is the directive): the name "
            "of the person who carries them out. Required for that type, refused otherwise."
        ),
    )
    designee_email: StrictStr | None = Field(
        default=None,
        max_length=EMAIL_MAX,
        description="Post-mortem directives: that person's email address.",
    )
    status_callback_urls: list[StrictStr] = Field(
        default_factory=list,
        max_length=MAX_CALLBACK_URLS,
        description=(
            "HTTPS URLs told of every status change with a signed POST (see the webhook "
            "`statusChanged`), each at most once. A URL whose host is a loopback, private, "
            "link-local, shared, unique-local, multicast, reserved or unspecified address (in "
            "any spelling), or `localhost`, is refused with a 422 unless the desk's "
            "configuration allows that network; a host name is checked each time a callback is "
            "sent, on every address it resolves to."
        ),
        json_schema_extra={
            "uniqueItems": True,
            "items": {"type": "string", "format": "uri", "maxLength": CALLBACK_URL_MAX},
        },
    )

    @field_validator("subject_request_type")
    @classmethod
    def _one_kind_of_type(
        cls, value: RequestType | None, info: ValidationInfo
    ) -> RequestType | None:
        if "subject_request_types" not in info.data:
            return value  # the list is invalid: its own error says why
        several = info.data["subject_request_types"]
        if value is None and several is None:
            raise PydanticCustomError(
                "request_type_missing",
                "Give what the learner asks for: `subject_request_type`, or "
                "`subject_request_types` for several things.",
            )
        if value is not None and several is not None:
            raise PydanticCustomError(
                "request_type_twice",
                "Give either `subject_request_type` or `subject_request_types`, not both.",
            )
        return value

    @property
    def request_types(self) -> list[RequestType]:
        """The types asked for, whichever field gave them."""
        if self.subject_request_types is not None:
            return list(self.subject_request_types)
        return [self.subject_request_type] if self.subject_request_type is not None else []

    @field_validator("subject_request_types")
    @classmethod
    def _each_type_once(cls, kinds: list[RequestType] | None) -> list[RequestType] | None:
        if kinds is not None and len(set(kinds)) != len(kinds):
            raise PydanticCustomError(
                "duplicate_request_type", "Each type of request can be asked for only once."
            )
        return kinds

    @field_validator("rectification")
    @classmethod
    def _rectification_matches_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        one = info.data.get("subject_request_type")
        several = info.data.get("subject_request_types")
        if one is None and not several:
            # No type at all (or both): reported on the types, see `_one_kind_of_type`.
            return value
        wanted = set(several or ()) | ({one} if one is not None else set())
        has_details = bool((value or "").strip())
        if RequestType.RECTIFICATION in wanted and not has_details:
            raise PydanticCustomError(
                "rectification_missing", "A rectification request says what to correct."
            )
        if RequestType.RECTIFICATION not in wanted and has_details:
            raise PydanticCustomError(
                "rectification_unexpected", "Only a rectification request says what to correct."
            )
        return value

    @field_validator("status_callback_urls")
    @classmethod
    def _callback_urls(cls, urls: list[str], info: ValidationInfo) -> list[str]:
        allowed_networks = parse_allowed_networks((info.context or {}).get(ALLOWED_NETWORKS))
        for url in urls:
            try:
                check_callback_url(url, allowed_networks=allowed_networks)
            except ValueError as error:
                raise PydanticCustomError("invalid_callback_url", str(error)) from None
        if len(set(urls)) != len(urls):
            raise PydanticCustomError("duplicate_callback_url", "Each callback URL appears once.")
        return urls


class PartDocument(BaseModel):
    """One part of a submission that asked for several things (issue 19)."""

    reference: str = Field(examples=["DSR-2026-000124"])
    subject_request_type: RequestType
    status: Status


class RequestDocument(BaseModel):
    """What the API shows of a request: its reference, type, status and deadline (no personal
    data: the platform already knows its learner)."""

    reference: str = Field(examples=["DSR-2026-000123"])
    subject_request_type: RequestType
    status: Status
    language: Language
    received_at: UtcDateTime
    verified_at: UtcDateTime | None
    due_at: UtcDateTime = Field(
        description="When the answer is due, as of now: the last instant of the due day on the "
        "organisation's calendar (a wait for the requester adds its whole days)."
    )
    status_callback_urls: list[str]
    parts: list[PartDocument] = Field(
        default_factory=list,
        description="Every part of the submission, this one included, when it asked for several "
        "things at once; empty for a request filed alone.",
    )


class ClientDocument(BaseModel):
    """The calling client, with the secret its status callbacks are signed with."""

    name: str
    status_callback_secret: str = Field(
        description=(
            "X-DSR-Signature is `sha256=` + hex HMAC-SHA256, under this secret, of the "
            "X-DSR-Timestamp value, a dot, and the raw body."
        )
    )


class ValidationErrorItem(BaseModel):
    pointer: str = Field(description="A JSON Pointer (RFC 6901) to the wrong part of the body.")
    detail: str


class ProblemDocument(BaseModel):
    """An RFC 9457 problem: every error of the API is one, as `application/problem+json`."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ValidationErrorItem] | None = Field(
        default=None, description="What is wrong in the body, for a 422."
    )


class StatusChangedRequest(BaseModel):
    reference: str
    subject_request_type: RequestType
    status: Status
    previous_status: Status
    due_at: str


class StatusChangedEvent(BaseModel):
    """The body of a status callback (signed: see ClientDocument.status_callback_secret)."""

    event_id: str
    event_type: str = Field(examples=["request.status_changed"])
    occurred_at: str
    request: StatusChangedRequest


def error_items(errors: list[Any]) -> list[dict[str, str]]:
    """Turn pydantic's errors into problem `errors`: a JSON Pointer and a message each (never the
    value sent, which may be personal data)."""
    items = []
    for error in errors:
        pointer = "".join(
            "/" + str(part).replace("~", "~0").replace("/", "~1") for part in error["loc"]
        )
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            message = "Unknown field."
        elif error["type"] == "missing":
            message = "This field is required."
        items.append({"pointer": pointer, "detail": message})
    return items
