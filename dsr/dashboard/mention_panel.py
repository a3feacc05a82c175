"""The request page's "Possible mentions to review" panel (issue 20): texts of other people that
name the subject, each with staff's decision (`mention_views` records one).

The search runs when the page is shown, like the locator's counts beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlmodel import Session

from dsr.datamap import open_systems
from dsr.i18n import gettext
from dsr.mentions import service
from dsr.mentions.forms import NOT_SUBJECT, SUBJECT
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from inventory.model import DataMap, MentionAction
from inventory.systems import SystemUnavailable

DECIDING_STATUSES = frozenset(
    {Status.VERIFIED, Status.IN_REVIEW, Status.AWAITING_REQUESTER, Status.FAILED}
)
"""While staff may decide: before the request is approved and carried out (or to run again)."""


@dataclass(frozen=True, slots=True)
class MentionShown:
    """One possible mention as the page shows it; `place` names it in the decision's form."""

    label: str
    table: str
    key: str
    excerpt: str
    place: str
    decision: str | None  # SUBJECT, NOT_SUBJECT, or None while undecided
    on_erasure: str | None = None  # what the erasure does to it once confirmed


@dataclass(frozen=True, slots=True)
class MentionsPanel:
    shown: bool = False
    items: tuple[MentionShown, ...] = field(default_factory=tuple)
    problem: str | None = None
    can_decide: bool = False


def _erasure_words(action: MentionAction | None) -> str:
    if action is MentionAction.DELETE:
        return gettext("If confirmed, the erasure deletes this text.")
    return gettext("If confirmed, the erasure replaces the name in this text.")


def unreadable(error: SystemUnavailable) -> str:
    return gettext(
        "The system %(system)s could not be read (%(reason)s): the possible mentions cannot be "
        "shown now. Try again later.",
        system=error.system,
        reason=error.reason,
    )


def mentions_panel(
    db_session: Session,
    data_map: DataMap,
    data_request: DataRequest,
    *,
    acting: bool,
    language: str,
) -> MentionsPanel:
    """Gather the possible mentions of the request's subject and staff's decisions on them."""
    if (
        data_map.mentions is None
        or data_request.type not in service.SEARCHED_TYPES
        or data_request.verified_at is None
        or data_request.id is None
    ):
        return MentionsPanel()
    try:
        systems = open_systems(current_app.config, data_map)
        found = service.possible_mentions(data_map, systems, data_request)
    except SystemUnavailable as error:
        return MentionsPanel(shown=True, problem=unreadable(error))
    decided = service.decisions(db_session, data_request.id)
    labels = {(s.system, s.column): s.label.get(language) for s in data_map.mentions.search}
    erasing = data_request.type is RequestType.ERASURE
    actions = {(s.system, s.column): s.erasure for s in data_map.mentions.search}
    items = tuple(
        MentionShown(
            label=labels.get((m.system, f"{m.table}.{m.column}"), f"{m.table}.{m.column}"),
            table=m.table,
            key=", ".join(str(value) for value in m.key),
            excerpt=m.excerpt,
            place=service.place_token(m),
            on_erasure=(
                _erasure_words(actions.get((m.system, f"{m.table}.{m.column}")))
                if erasing
                else None
            ),
            decision=(
                None
                if (choice := decided.get(service.place_of(m))) is None
                else SUBJECT
                if choice
                else NOT_SUBJECT
            ),
        )
        for m in found
    )
    return MentionsPanel(
        shown=True, items=items, can_decide=acting and data_request.status in DECIDING_STATUSES
    )
