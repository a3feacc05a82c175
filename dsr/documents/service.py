"""Keep, open and delete the documents of a request (R44-R46).

A document is refused unless it is a PDF, a PNG or JPEG image, or plain UTF-8 text (an email
saved as text, a transcript), recognised from its first bytes rather than from the name or the
type the browser claims; it must not be empty nor larger than DSR_DOCUMENT_MAX_BYTES. Its bytes
and its file name are sealed with a key of their own (`document_box`); its kind, size and type
stay readable, so that the history can say what was received after the content is gone.
Each addition, reading and deletion is audited, in the caller's transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dsr.audit.models import record_action
from dsr.dates import shown_decimal
from dsr.documents.models import DocumentKind, RemovalCause, RequestDocument
from dsr.i18n import lazy_gettext
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor
from dsr.sealing import SecretBox

ADDED_ACTION = "document_added"
VIEWED_ACTION = "document_viewed"
REMOVED_ACTION = "document_removed"

DOCUMENT_PURPOSE = b"privacy-desk request document v1"
NAME_MAX = 200
REQUESTER_LABEL = "requester"


def document_box(config: Mapping[str, Any]) -> SecretBox:
    """The box that seals the documents of requests (and their names) in the store."""
    return SecretBox(str(config["SECRET_KEY"]), DOCUMENT_PURPOSE)


class DocumentRefused(ValueError):
    """A document the desk does not keep; `message` says why, in the reader's language."""

    def __init__(self, message: str) -> None:
        super().__init__(str(message))
        self.message = message


_SIGNATURES: Sequence[tuple[bytes, str]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
TEXT_TYPE = "text/plain; charset=utf-8"


def content_type_of(data: bytes) -> str | None:
    """Return the type of a document from its first bytes, or None when the desk keeps no such
    file: PDF, PNG, JPEG, or text that is valid UTF-8 without control characters other than
    tabs and line ends."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(char) == "Cc" and char not in "\t\r\n\f" for char in text):
        return None
    return TEXT_TYPE


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


def safe_name(filename: str | None) -> str:
    """Return the file's own name (no folders, no control characters), at most NAME_MAX
    characters; "document" when nothing is left."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    return name[-NAME_MAX:] or "document"


def add_document(
    *,
    db_session: Session,
    request: DataRequest,
    kind: DocumentKind,
    filename: str | None,
    data: bytes,
    box: SecretBox,
    max_bytes: int,
    added_by: str,
    actor: Actor,
    now: datetime,
) -> RequestDocument:
    """Keep `data` with `request` as a document of `kind`, sealed; raise DocumentRefused (and
    store nothing) when it is empty, too large or of a type the desk does not keep."""
    if not data:
        raise DocumentRefused(lazy_gettext("The file is empty."))
    if len(data) > max_bytes:
        raise DocumentRefused(
            lazy_gettext(
                "The file is larger than the %(size)s a document may be.",
                size=shown_size(max_bytes),
            )
        )
    content_type = content_type_of(data)
    if content_type is None:
        raise DocumentRefused(
            lazy_gettext("Send a PDF, a PNG or JPEG image, or a plain text file (UTF-8).")
        )
    document = RequestDocument(
        request_id=_request_id(db_session, request),
        kind=kind,
        content_type=content_type,
        size=len(data),
        sealed_name=box.seal(safe_name(filename)),
        sealed_content=box.seal_bytes(data),
        added_at=now,
        added_by=added_by,
    )
    db_session.add(document)
    db_session.flush()
    record_action(
        db_session=db_session,
        request=request,
        actor=actor,
        actor_label=added_by if actor is Actor.STAFF else None,
        action=ADDED_ACTION,
        at=now,
        details={"document": document.id, "kind": kind.value, "bytes": len(data)},
    )
    return document


def shown_size(size: int) -> str:
    """Return a size as the delivery pages write it ("10,0 Mo" in French), with Babel."""
    if size >= 1024 * 1024:
        return str(lazy_gettext("%(size)s MB", size=shown_decimal(size / 1048576)))
    return str(lazy_gettext("%(size)s KB", size=shown_decimal(size / 1024)))


def _request_id(db_session: Session, request: DataRequest) -> int:
    if request.id is None:
        db_session.flush()
    if request.id is None:
        raise ValueError("the request has no id even after a flush")
    return request.id


def documents_of(db_session: Session, request: DataRequest) -> list[RequestDocument]:
    """Every document of `request`, the removed ones too, oldest first."""
    return list(
        db_session.exec(
            select(RequestDocument)
            .where(RequestDocument.request_id == request.id)
            .order_by(col(RequestDocument.added_at), col(RequestDocument.id))
        ).all()
    )


@dataclass(frozen=True, slots=True)
class OpenedDocument:
    name: str
    content_type: str
    data: bytes


def open_document(
    *,
    db_session: Session,
    request: DataRequest,
    document_id: int,
    box: SecretBox,
    staff_label: str,
    now: datetime,
) -> OpenedDocument | None:
    """Return the document `document_id` of `request`, opened for the staff member who reads it
    (audited); None when there is no such document or its content was deleted."""
    document = db_session.get(RequestDocument, document_id)
    if (
        document is None
        or document.request_id != request.id
        or document.sealed_content is None
        or document.sealed_name is None
    ):
        return None
    data = box.open_bytes(document.sealed_content)
    name = box.open(document.sealed_name)
    if data is None or name is None:  # sealed under another DSR_SECRET_KEY
        return None
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=VIEWED_ACTION,
        at=now,
        details={"document": document.id, "kind": document.kind.value},
    )
    return OpenedDocument(name=name, content_type=document.content_type, data=data)


def remove_document(
    *,
    db_session: Session,
    request: DataRequest,
    document: RequestDocument,
    cause: RemovalCause,
    now: datetime,
    actor: Actor = Actor.SYSTEM,
    actor_label: str | None = None,
    reason: str | None = None,
) -> bool:
    """Delete a document's content and name, keep the fact that it existed; False when it was
    already removed. Audited, in the caller's transaction."""
    if document.removed or document.request_id != request.id:
        return False
    document.sealed_content = None
    document.sealed_name = None
    document.removed_at = now
    document.removal_cause = cause
    db_session.add(document)
    record_action(
        db_session=db_session,
        request=request,
        actor=actor,
        actor_label=actor_label,
        action=REMOVED_ACTION,
        at=now,
        reason=reason,
        details={"document": document.id, "kind": document.kind.value, "cause": cause.value},
    )
    return True


def remove_documents(
    *,
    db_session: Session,
    request: DataRequest,
    cause: RemovalCause,
    now: datetime,
    kinds: Sequence[DocumentKind] | None = None,
    actor: Actor = Actor.SYSTEM,
    actor_label: str | None = None,
) -> int:
    """Delete the content of every document of `request` still kept (of `kinds`, when given);
    return how many. An identity document is removed with `cause=CHECKED` once its check is
    recorded (R46); all of them with `MINIMISED` when the request is minimised."""
    removed = 0
    for document in documents_of(db_session, request):
        if kinds is not None and document.kind not in kinds:
            continue
        removed += remove_document(
            db_session=db_session,
            request=request,
            document=document,
            cause=cause,
            now=now,
            actor=actor,
            actor_label=actor_label,
        )
    return removed
