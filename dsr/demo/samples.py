"""The demo's sample learners: one present in the platform for each kind of request, with data
that kind is about (invoices an erasure keeps, a marketing subscription to object to...), read
from the platform as it stands, so that a learner erased by an earlier request is never offered.

Also whether the platform already exists: `dsr demo seed` keeps it as the requests left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Table, and_, exists, func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from dsr.demo import schema
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.requests.workflow import RequestType

learner = schema.learner


def _has(table: Table) -> ColumnElement[bool]:
    """The learner has at least one row of `table` (which refers to them by learner_id)."""
    return exists().where(table.c.learner_id == learner.c.id)


def _alone_on_their_address() -> ColumnElement[bool]:
    """No other account's email differs from theirs only by case (the demo seeds some)."""
    other = learner.alias("other")
    return ~exists().where(
        and_(func.lower(other.c.email) == func.lower(learner.c.email), other.c.id != learner.c.id)
    )


def _subscribed() -> ColumnElement[bool]:
    subscription = schema.marketing_subscription
    return exists().where(
        and_(subscription.c.learner_id == learner.c.id, subscription.c.opted_in.is_(True))
    )


_SAMPLES: Final[tuple[tuple[RequestType, str], ...]] = (
    (RequestType.ACCESS, "data in most categories, an exam registration sent to the CCI"),
    (RequestType.PORTABILITY, "quiz answers and purchased courses to export"),
    (RequestType.ERASURE, "invoices, which an erasure keeps 10 years (Code de commerce)"),
    (RequestType.RECTIFICATION, "a name, a phone number and an address to correct"),
    (RequestType.RESTRICTION, "course comments and invoices, processing not yet restricted"),
    (RequestType.OBJECTION, "subscribed to promotional emails"),
    (RequestType.DEACTIVATION, "an account that can still log in"),
    (RequestType.OBJECTION_LEGITIMATE_INTEREST, "survey answers, kept on legitimate interests"),
    (RequestType.POST_MORTEM, "an account with purchases, for directives after death"),
)
"""Each kind of request and what its sample learner has, in the order they are printed."""


def _condition(kind: RequestType) -> ColumnElement[bool]:
    untouched = and_(
        learner.c.login_enabled.is_(True),
        learner.c.restricted.is_(False),
        _alone_on_their_address(),
    )
    return {
        RequestType.ACCESS: and_(untouched, _has(schema.exam_registration)),
        RequestType.PORTABILITY: and_(
            untouched, _has(schema.quiz_answer), _has(schema.course_purchase)
        ),
        RequestType.ERASURE: and_(untouched, _has(schema.invoice)),
        RequestType.RECTIFICATION: and_(
            untouched,
            learner.c.first_name.is_not(None),
            learner.c.phone.is_not(None),
            learner.c.street.is_not(None),
        ),
        RequestType.RESTRICTION: and_(untouched, _has(schema.course_comment), _has(schema.invoice)),
        RequestType.OBJECTION: and_(untouched, _subscribed()),
        RequestType.DEACTIVATION: and_(untouched, learner.c.last_login_at.is_not(None)),
        RequestType.OBJECTION_LEGITIMATE_INTEREST: and_(untouched, _has(schema.survey_response)),
        RequestType.POST_MORTEM: and_(untouched, _has(schema.course_purchase)),
    }[kind]


@dataclass(frozen=True, slots=True)
class SampleLearner:
    """A learner of the platform to try one kind of request with, and what they have for it."""

    kind: RequestType
    email: str
    has: str


def _first_email(connection: Connection, kind: RequestType, taken: list[str]) -> str | None:
    query = select(learner.c.email).where(_condition(kind))
    if taken:
        query = query.where(func.lower(learner.c.email).not_in([e.lower() for e in taken]))
    if kind is RequestType.ACCESS:  # the map's documented sample, while it is there
        preferred = connection.execute(
            query.where(func.lower(learner.c.email) == SAMPLE_LEARNER_EMAIL)
        ).scalar()
        if preferred is not None:
            return str(preferred)
    found = connection.execute(query.order_by(learner.c.id).limit(1)).scalar()
    return None if found is None else str(found)


def sample_learners(engine: Engine) -> list[SampleLearner]:
    """Return a different learner of the platform for each kind of request (a kind no learner
    still fits is left out)."""
    samples: list[SampleLearner] = []
    with engine.connect() as connection:
        for kind, has in _SAMPLES:
            email = _first_email(connection, kind, [s.email for s in samples])
            if email is not None:
                samples.append(SampleLearner(kind=kind, email=email, has=has))
    return samples


def learners_in_platform(engine: Engine) -> int | None:
    """Return how many learners the platform holds, or None when it has no learner table."""
    if not inspect(engine).has_table(learner.name):
        return None
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(learner)).scalar_one())


def samples_table(samples: list[SampleLearner]) -> list[str]:
    """Return the lines of a plain-text table of `samples`: kind, email, what they have."""
    kinds = [sample.kind.value for sample in samples]
    width_kind = max([len("request"), *map(len, kinds)])
    width_email = max([len("learner"), *(len(sample.email) for sample in samples)])
    lines = [f"{'request':<{width_kind}}  {'learner':<{width_email}}  has"]
    lines.append(f"{'-' * width_kind}  {'-' * width_email}  ---")
    lines.extend(
        f"{sample.kind.value:<{width_kind}}  {sample.email:<{width_email}}  {sample.has}"
        for sample in samples
    )
    return lines
