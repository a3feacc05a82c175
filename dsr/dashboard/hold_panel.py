"""The legal holds of a request's page (Art. 17(3)(e), R50): the holds in force, what they keep,
why and until when, with the forms to place one and to lift one early (`hold_actions`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from dsr.dashboard.forms import HoldForm, LiftHoldForm
from dsr.holds.service import active_holds
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from inventory.model import DataMap


@dataclass(frozen=True, slots=True)
class HoldLine:
    """One hold in force, as the page shows it."""

    id: int
    categories: list[str]
    reason: str
    ends_on: date
    placed_by: str
    placed_at: datetime


@dataclass
class HoldsPanel:
    holds: list[HoldLine] = field(default_factory=list)
    form: HoldForm | None = None
    lift_forms: dict[int, LiftHoldForm] = field(default_factory=dict)
    shown: bool = False
    refused_lift: LiftHoldForm | None = None
    """A lift just posted for no hold in force: its errors are shown above the holds."""


def category_choices(data_map: DataMap, language: str) -> list[tuple[str, str]]:
    return [(c, spec.title.get(language)) for c, spec in data_map.categories.items()]


def can_hold(data_request: DataRequest) -> bool:
    """Whether staff may place a hold: the address is proven and the data is not erased yet."""
    erased = data_request.type is RequestType.ERASURE and data_request.status is Status.COMPLETED
    return data_request.verified_at is not None and not erased


def holds_panel(
    db_session: Session,
    data_map: DataMap,
    data_request: DataRequest,
    *,
    acting: bool,
    language: str,
    now: datetime,
    bound: HoldForm | LiftHoldForm | None = None,
) -> HoldsPanel:
    """Gather the holds in force and, for `acting` staff, the forms (`bound`: one just posted)."""
    if data_request.id is None:
        return HoldsPanel()
    titles = dict(category_choices(data_map, language))
    panel = HoldsPanel(shown=data_request.verified_at is not None)
    for hold in active_holds(db_session, data_request.id, now):
        if hold.id is None:
            continue
        panel.holds.append(
            HoldLine(
                hold.id,
                [titles.get(c, c) for c in hold.category_ids],
                hold.reason,
                hold.ends_on,
                hold.placed_by,
                hold.placed_at,
            )
        )
        if acting:
            lift = LiftHoldForm(data={"hold_id": str(hold.id)})
            if isinstance(bound, LiftHoldForm) and bound.hold == hold.id:
                lift = bound
            panel.lift_forms[hold.id] = lift
    if isinstance(bound, LiftHoldForm) and bound.hold not in panel.lift_forms:
        panel.refused_lift = bound
    if isinstance(bound, HoldForm):  # just posted: shown with its errors
        panel.form = bound
    elif acting and can_hold(data_request):
        panel.form = HoldForm(categories=category_choices(data_map, language))
    return panel
