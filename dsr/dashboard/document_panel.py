"""The documents of a request's page (R44-R46): what was kept, its kind, size and who added it,
whether its content is still there (or when and why it was deleted), with the forms to add one
and to delete one's content (`document_views`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from dsr.dashboard.forms import DocumentForm, RemoveDocumentForm, removal_prefix
from dsr.documents.models import DocumentKind, RemovalCause
from dsr.documents.service import documents_of
from dsr.i18n import lazy_gettext
from dsr.requests.models import DataRequest

DOCUMENT_KIND_LABELS: Mapping[DocumentKind, str] = {
    DocumentKind.RECEIVED_MESSAGE: lazy_gettext("Message or letter received"),
    DocumentKind.MANDATE: lazy_gettext("Representative's mandate"),
    DocumentKind.PARENTAL_AUTHORITY: lazy_gettext("Proof of parental authority"),
    DocumentKind.IDENTITY_DOCUMENT: lazy_gettext("Identity document"),
    DocumentKind.OTHER: lazy_gettext("Other document"),
}
REMOVAL_CAUSE_LABELS: Mapping[RemovalCause, str] = {
    RemovalCause.CHECKED: lazy_gettext("deleted once the identity check was recorded"),
    RemovalCause.STAFF: lazy_gettext("deleted by staff"),
    RemovalCause.MINIMISED: lazy_gettext("deleted when the request's retention ended"),
    RemovalCause.CLOSED: lazy_gettext("deleted unchecked when the request closed"),
}


def kind_choices() -> list[tuple[str, str]]:
    return [(kind.value, str(label)) for kind, label in DOCUMENT_KIND_LABELS.items()]


@dataclass(frozen=True, slots=True)
class DocumentLine:
    id: int
    kind: str
    content_type: str
    size: int
    added_at: datetime
    added_by: str
    removed_at: datetime | None
    removal: str | None


@dataclass
class DocumentsPanel:
    documents: list[DocumentLine] = field(default_factory=list)
    form: DocumentForm | None = None
    remove_forms: dict[int, RemoveDocumentForm] = field(default_factory=dict)
    can_open: bool = False


def documents_panel(
    db_session: Session,
    data_request: DataRequest,
    *,
    acting: bool,
    bound: DocumentForm | RemoveDocumentForm | None = None,
) -> DocumentsPanel:
    """Gather the request's documents and, for `acting` staff, the forms (`bound`: one just
    posted, shown with its errors)."""
    lines = [
        DocumentLine(
            id=document.id or 0,
            kind=str(DOCUMENT_KIND_LABELS[document.kind]),
            content_type=document.content_type.split(";")[0],
            size=document.size,
            added_at=document.added_at,
            added_by=document.added_by,
            removed_at=document.removed_at,
            removal=(
                str(REMOVAL_CAUSE_LABELS[document.removal_cause])
                if document.removal_cause is not None
                else None
            ),
        )
        for document in documents_of(db_session, data_request)
    ]
    panel = DocumentsPanel(documents=lines, can_open=acting)
    if not acting:
        return panel
    panel.form = bound if isinstance(bound, DocumentForm) else DocumentForm(kinds=kind_choices())
    for line in lines:
        if line.removed_at is not None:
            continue
        prefix = removal_prefix(line.id)
        if isinstance(bound, RemoveDocumentForm) and bound.reason.name == f"{prefix}reason":
            panel.remove_forms[line.id] = bound
        else:
            panel.remove_forms[line.id] = RemoveDocumentForm(prefix=prefix)
    return panel
