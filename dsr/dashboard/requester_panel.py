"""The part of a request's page about who asks and for whom (R45, R46): whether it is made by
a representative or a parent, for whom, the check of their proof; the check of an identity
document asked for; the other identities of the person (`requester_views` takes the forms)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session
from wtforms import Form

from dsr.dashboard.requester_forms import (
    AddIdentityForm,
    IdentityCheckForm,
    ProofCheckForm,
    RemoveIdentityForm,
    RepresentationForm,
)
from dsr.requests import identity_check
from dsr.requests.identities import addable_identities, identities_of
from dsr.requests.models import DataRequest, ProofCheck
from dsr.requests.representation import BEFORE_APPROVAL, ROLE_NAMES
from dsr.requests.workflow import TERMINAL
from inventory.model import DataMap


@dataclass(frozen=True, slots=True)
class IdentityLine:
    id: int
    identity: str
    value: str
    proof: str
    added_at: datetime
    added_by: str


@dataclass
class RequesterPanel:
    role: str = ""
    for_someone_else: bool = False
    subject_name: str | None = None
    subject_email: str | None = None
    proof_check: ProofCheck | None = None
    proof_checked_at: datetime | None = None
    proof_form: ProofCheckForm | None = None
    representation_form: RepresentationForm | None = None
    identity_awaited: bool = False
    identity_documents_waiting: int = 0
    identity_check_form: IdentityCheckForm | None = None
    identities: list[IdentityLine] = field(default_factory=list)
    add_identity_form: AddIdentityForm | None = None
    remove_identity_form: RemoveIdentityForm | None = None


def requester_panel(
    db_session: Session,
    data_map: DataMap,
    data_request: DataRequest,
    *,
    acting: bool,
    bound: tuple[str, Form] | None = None,
) -> RequesterPanel:
    """Gather the panel; `bound` is a form just posted with errors, to show again."""
    posted = bound[1] if bound is not None else None
    open_request = data_request.status not in TERMINAL
    panel = RequesterPanel(
        role=str(ROLE_NAMES[data_request.requester_role]),
        for_someone_else=data_request.for_someone_else,
        subject_name=data_request.subject_name,
        subject_email=data_request.subject_email,
        proof_check=data_request.proof_check,
        proof_checked_at=data_request.proof_checked_at,
        identity_awaited=identity_check.identity_document_awaited(db_session, data_request),
        identity_documents_waiting=identity_check.unchecked_identity_documents(
            db_session, data_request
        ),
        identities=[
            IdentityLine(
                id=row.id or 0,
                identity=row.identity,
                value=row.value,
                proof=row.proof,
                added_at=row.added_at,
                added_by=row.added_by,
            )
            for row in identities_of(db_session, data_request.id)
        ],
    )
    if not acting:
        return panel
    version = {"version_id": str(data_request.version_id)}
    if data_request.for_someone_else and open_request:
        panel.proof_form = posted if isinstance(posted, ProofCheckForm) else ProofCheckForm()
    if data_request.status in BEFORE_APPROVAL:
        panel.representation_form = (
            posted
            if isinstance(posted, RepresentationForm)
            else RepresentationForm(
                data={
                    "role": data_request.requester_role.value,
                    "subject_name": data_request.subject_name or "",
                    "subject_email": data_request.subject_email or "",
                }
            )
        )
    if open_request and (panel.identity_awaited or panel.identity_documents_waiting):
        panel.identity_check_form = (
            posted if isinstance(posted, IdentityCheckForm) else IdentityCheckForm(data=version)
        )
    if open_request:
        names = list(addable_identities(data_map))
        panel.add_identity_form = (
            posted if isinstance(posted, AddIdentityForm) else AddIdentityForm(identities=names)
        )
        panel.remove_identity_form = RemoveIdentityForm()
    return panel
