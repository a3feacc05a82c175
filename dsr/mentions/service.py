"""Staff's decisions on the possible mentions of a request's subject (issue 20).

The search (`inventory.mentions`) finds texts of other people that name the subject; homonyms
exist, so each one waits for a decision: "is this person" (the access report lists it, the
erasure applies the map's action to it) or "not this person" (ignored). Undecided ones are never
reported nor erased. A decision is stored by the row's key, never its text, and audited.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import object_session
from sqlmodel import Session, select

from dsr.audit.models import record_action
from dsr.db import open_session, table_of
from dsr.i18n import gettext
from dsr.mentions.models import ROW_KEY_MAX, MentionDecision
from dsr.requests.identities import other_identities
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import Actor, RequestType
from inventory.locator import SubjectLocation, locate_subject
from inventory.mentions import PossibleMention, find_mentions
from inventory.model import DataMap, IdentityKind, MentionAction
from inventory.systems import Systems

DECIDED_ACTION = "mention_decided"
SEARCHED_TYPES = frozenset({RequestType.ACCESS, RequestType.ERASURE})
"""The requests whose answer a mention changes: the copy of the data, and its erasure."""
Place = tuple[str, str, str, str]
"""A text column of one row: system, table, column, and the row's key as a JSON list."""


def row_key_text(mention: PossibleMention) -> str:
    return json.dumps(list(mention.key), separators=(",", ":"), default=str)


def place_of(mention: PossibleMention) -> Place:
    return (mention.system, mention.table, mention.column, row_key_text(mention))


def place_token(mention: PossibleMention) -> str:
    """The form value naming one possible mention (no text of it)."""
    return json.dumps(list(place_of(mention)), separators=(",", ":"))


def locate_requester(
    data_map: DataMap, systems: Systems, data_request: DataRequest
) -> SubjectLocation | None:
    """Locate the request's subject, as every run does: by the person's address (the
    represented person's when a representative asks, R45) and the other identities staff added;
    None when the map has no email identity or the address is not verified."""
    identity = next(
        (name for name, spec in data_map.identities.items() if spec.kind is IdentityKind.EMAIL),
        None,
    )
    if identity is None or data_request.verified_at is None:
        return None
    db_session = object_session(data_request)
    others = (
        other_identities(db_session, data_request.id) if isinstance(db_session, Session) else ()
    )
    return locate_subject(data_map, systems, identity, data_request.subject_address, others=others)


def possible_mentions(
    data_map: DataMap, systems: Systems, data_request: DataRequest
) -> list[PossibleMention]:
    """Return the possible mentions of the request's subject now (none for other request
    types, or without a map's `mentions`)."""
    if data_map.mentions is None or data_request.type not in SEARCHED_TYPES:
        return []
    location = locate_requester(data_map, systems, data_request)
    return [] if location is None else find_mentions(data_map, systems, location)


_DECISION_TABLE = table_of(MentionDecision)
_DECISIONS = sa_select(
    *(
        _DECISION_TABLE.c[name]
        for name in ("system", "table_name", "column_name", "row_key", "is_subject")
    )
).where(_DECISION_TABLE.c.request_id == bindparam("p_request"))
"""Built once, the columns only: every erasure run reads its request's decisions."""


def decisions(db_session: Session, request_id: int) -> dict[Place, bool]:
    """Return each decided place of the request and whether it is the subject."""
    rows = db_session.execute(_DECISIONS, {"p_request": request_id})
    return {(row[0], row[1], row[2], row[3]): bool(row[4]) for row in rows}


def confirmed(
    db_session: Session, request_id: int, mentions: Sequence[PossibleMention]
) -> list[PossibleMention]:
    """Return the mentions among `mentions` that staff said are the subject."""
    decided = decisions(db_session, request_id)
    return [m for m in mentions if decided.get(place_of(m)) is True]


def find_by_token(mentions: Sequence[PossibleMention], token: str) -> PossibleMention | None:
    """Return the possible mention `token` names; None when it is no longer one (the text
    changed) or never was."""
    return next((m for m in mentions if place_token(m) == token), None)


def decide(
    *,
    db_session: Session,
    request: DataRequest,
    mention: PossibleMention,
    is_subject: bool,
    staff_label: str,
    now: datetime,
) -> None:
    """Record (or change) staff's decision on one possible mention, and audit it; flushes."""
    if request.id is None:
        raise ValueError("the request is not stored")
    system, table, column, row_key = place_of(mention)
    if len(row_key) > ROW_KEY_MAX:
        raise OperationRefused(gettext("This row's key is too long to record a decision on it."))
    existing = db_session.exec(
        select(MentionDecision).where(
            MentionDecision.request_id == request.id,
            MentionDecision.system == system,
            MentionDecision.table_name == table,
            MentionDecision.column_name == column,
            MentionDecision.row_key == row_key,
        )
    ).first()
    decision = existing or MentionDecision(
        request_id=request.id,
        system=system,
        table_name=table,
        column_name=column,
        row_key=row_key,
        is_subject=is_subject,
        decided_by=staff_label,
        decided_at=now,
    )
    decision.is_subject, decision.decided_by, decision.decided_at = is_subject, staff_label, now
    db_session.add(decision)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=DECIDED_ACTION,
        at=now,
        details={
            "system": system,
            "table": table,
            "column": column,
            "key": row_key,
            "decision": "subject" if is_subject else "not_subject",
        },
    )
    db_session.flush()


def confirmed_in_run(
    engine: Engine, request_id: int, data_map: DataMap, systems: Systems, location: SubjectLocation
) -> list[PossibleMention]:
    """Return, for a request's run, the texts that still name the subject among those staff
    confirmed (the search runs only when staff confirmed some)."""
    if data_map.mentions is None:
        return []
    with open_session(engine) as db_session:
        decided = decisions(db_session, request_id)
    return confirmed_found(decided, data_map, systems, location)


def confirmed_found(
    decided: Mapping[Place, bool], data_map: DataMap, systems: Systems, location: SubjectLocation
) -> list[PossibleMention]:
    """Return the texts that still name the subject among those `decided` (the request's
    `decisions`) says are theirs; the search runs only when staff confirmed some."""
    if data_map.mentions is None or True not in decided.values():
        return []
    return [
        m for m in find_mentions(data_map, systems, location) if decided.get(place_of(m)) is True
    ]


@dataclass(frozen=True, slots=True)
class PlannedMentions:
    """The confirmed mentions of one text column the erasure changes: how many texts and what
    it does to them (names and counts only, never a text)."""

    system: str
    table: str
    column: str
    action: MentionAction
    count: int


@dataclass(frozen=True, slots=True)
class MentionsPlan:
    """What the erasure plan says about mentions: the confirmed ones by column, and how many
    possible mentions still await staff's decision (neither is erased)."""

    confirmed: tuple[PlannedMentions, ...] = ()
    undecided: int = 0
    replacement: str = ""


def mentions_plan(
    data_map: DataMap, mentions: Sequence[PossibleMention], decided: Mapping[Place, bool]
) -> MentionsPlan:
    """Group the possible mentions staff confirmed by text column, with the map's action, and
    count those still undecided (rejected ones are left out)."""
    if data_map.mentions is None:
        return MentionsPlan()
    actions = {(s.system, s.column): s.erasure for s in data_map.mentions.search}
    counts: Counter[tuple[str, str, str]] = Counter()
    undecided = 0
    for mention in mentions:
        choice = decided.get(place_of(mention))
        if choice is None:
            undecided += 1
        elif choice:
            counts[(mention.system, mention.table, mention.column)] += 1
    confirmed = tuple(
        PlannedMentions(
            system,
            table,
            column,
            actions.get((system, f"{table}.{column}"), MentionAction.REDACT),
            count,
        )
        for (system, table, column), count in counts.items()
    )
    return MentionsPlan(confirmed, undecided, data_map.mentions.replacement)
