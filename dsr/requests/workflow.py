"""The life of a data-subject request: its statuses, who may move it, and its deadline.

Pure rules, no database and no Flask: the store loads a `RequestState`, calls `apply`, saves the
new state and writes the returned `AuditFact` in the same transaction. Nothing else changes a
request's status (R3, R4, R5, R8).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType

from dsr.requests.deadlines import aware_utc as _utc
from dsr.requests.deadlines import deadline_for
from dsr.requests.extension_grounds import ExtensionGround, extension_ground
from inventory.phrases import N_, Phrase


class RequestType(StrEnum):
    """What the data subject asks for (GDPR Articles 15 to 21, plus account deactivation and
    French post-mortem directives)."""

    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"  # to direct marketing (Art. 21(2)): absolute
    DEACTIVATION = "deactivation"
    # to processing on legitimate interests (Art. 21(1)): staff weigh the requester's situation
    OBJECTION_LEGITIMATE_INTEREST = "objection_legitimate_interest"
    POST_MORTEM = (
        "post_mortem"  # directives for after death (loi Informatique et Libertés, art. 85)
    )


class Status(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_REVIEW = "in_review"
    AWAITING_REQUESTER = "awaiting_requester"
    APPROVED = "approved"
    PROCESSING = "processing"
    READY_TO_SEND = "ready_to_send"  # carried out; the answer is not yet delivered to the requester
    COMPLETED = "completed"  # answered: the answer email was delivered (R47)
    DENIED = "denied"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


TERMINAL: frozenset[Status] = frozenset(
    {Status.COMPLETED, Status.DENIED, Status.EXPIRED, Status.CANCELLED}
)


class Actor(StrEnum):
    STAFF = "staff"
    REQUESTER = "requester"
    SYSTEM = "system"


class Action(StrEnum):
    VERIFY_EMAIL = "verify_email"
    EXPIRE = "expire"
    START_REVIEW = "start_review"
    ASK_REQUESTER = "ask_requester"
    REQUESTER_ANSWERED = "requester_answered"
    APPROVE = "approve"
    DENY = "deny"
    START_PROCESSING = "start_processing"
    FINISH_PROCESSING = "finish_processing"  # the work is done, the answer is ready to send
    APPLY_AT_ONCE = "apply_at_once"  # an objection to marketing applied on verification (R27)
    COMPLETE = "complete"  # the answer email was delivered: the request is answered
    ANSWER_POSTED = "answer_posted"  # staff posted the answer by letter: the request is answered
    FAIL = "fail"
    CANCEL = "cancel"
    EXTEND = "extend"


TRANSITIONS: Mapping[tuple[Status, Action], Status] = MappingProxyType(
    {
        (Status.RECEIVED, Action.VERIFY_EMAIL): Status.VERIFIED,
        (Status.RECEIVED, Action.EXPIRE): Status.EXPIRED,
        (Status.VERIFIED, Action.START_REVIEW): Status.IN_REVIEW,
        (Status.VERIFIED, Action.ASK_REQUESTER): Status.AWAITING_REQUESTER,
        (Status.IN_REVIEW, Action.ASK_REQUESTER): Status.AWAITING_REQUESTER,
        (Status.AWAITING_REQUESTER, Action.REQUESTER_ANSWERED): Status.IN_REVIEW,
        (Status.IN_REVIEW, Action.APPROVE): Status.APPROVED,
        (Status.VERIFIED, Action.DENY): Status.DENIED,
        (Status.IN_REVIEW, Action.DENY): Status.DENIED,
        (Status.AWAITING_REQUESTER, Action.DENY): Status.DENIED,
        (Status.APPROVED, Action.START_PROCESSING): Status.PROCESSING,
        (Status.FAILED, Action.START_PROCESSING): Status.PROCESSING,
        (Status.PROCESSING, Action.FINISH_PROCESSING): Status.READY_TO_SEND,
        (Status.VERIFIED, Action.APPLY_AT_ONCE): Status.READY_TO_SEND,
        (Status.READY_TO_SEND, Action.COMPLETE): Status.COMPLETED,
        (Status.READY_TO_SEND, Action.ANSWER_POSTED): Status.COMPLETED,
        (Status.PROCESSING, Action.FAIL): Status.FAILED,
        (Status.RECEIVED, Action.CANCEL): Status.CANCELLED,
        (Status.VERIFIED, Action.CANCEL): Status.CANCELLED,
        (Status.IN_REVIEW, Action.CANCEL): Status.CANCELLED,
        (Status.AWAITING_REQUESTER, Action.CANCEL): Status.CANCELLED,
        (Status.APPROVED, Action.CANCEL): Status.CANCELLED,
        # An extension moves the deadline, not the status.
        **{(status, Action.EXTEND): status for status in Status if status not in TERMINAL},
    }
)
"""Every allowed (status, action) pair and the status it leads to; any other pair is refused."""

ACTORS: Mapping[Action, frozenset[Actor]] = MappingProxyType(
    {
        # staff: verify by hand; system: an API client vouches for its logged-in learner
        Action.VERIFY_EMAIL: frozenset({Actor.REQUESTER, Actor.STAFF, Actor.SYSTEM}),
        Action.EXPIRE: frozenset({Actor.SYSTEM}),
        Action.START_REVIEW: frozenset({Actor.STAFF}),
        Action.ASK_REQUESTER: frozenset({Actor.STAFF}),
        Action.REQUESTER_ANSWERED: frozenset({Actor.REQUESTER, Actor.STAFF}),
        Action.APPROVE: frozenset({Actor.STAFF}),
        Action.DENY: frozenset({Actor.STAFF}),
        Action.START_PROCESSING: frozenset({Actor.STAFF, Actor.SYSTEM}),
        Action.FINISH_PROCESSING: frozenset({Actor.STAFF, Actor.SYSTEM}),
        Action.APPLY_AT_ONCE: frozenset({Actor.SYSTEM}),
        # only the outbox knows that the answer was delivered
        Action.COMPLETE: frozenset({Actor.SYSTEM}),
        # only staff know that they posted the answer (to a request answered by post)
        Action.ANSWER_POSTED: frozenset({Actor.STAFF}),
        Action.FAIL: frozenset({Actor.STAFF, Actor.SYSTEM}),
        Action.CANCEL: frozenset({Actor.REQUESTER, Actor.STAFF}),
        Action.EXTEND: frozenset({Actor.STAFF}),
    }
)
"""Who may take each action."""

REASON_REQUIRED: frozenset[Action] = frozenset({Action.DENY, Action.FAIL, Action.EXTEND})
MAX_EXTENSION_MONTHS = 2


class Refusal(Exception):
    """A refusal written for the person who tried: `message` is the English text (the API's and
    the logs'); `said(gettext)` is the same text in the reader's language. Its parts are data,
    said as they are, or `Phrase`s, translated too."""

    def __init__(self, message: str, **parts: str) -> None:
        self.phrase = Phrase(message, **parts)
        self.message = str(self.phrase)
        super().__init__(self.message)

    def said(self, gettext: Callable[[str], str]) -> str:
        """Return the message translated by `gettext`."""
        return self.phrase.said(gettext)


class WorkflowError(Refusal):
    """A step the rules forbid; its message is written for the person who tried it."""


_SUBJECT: Mapping[Status, str] = {
    Status.RECEIVED: N_("A request whose email address is not yet verified"),
    Status.VERIFIED: N_("A verified request"),
    Status.IN_REVIEW: N_("A request in review"),
    Status.AWAITING_REQUESTER: N_("A request waiting for the requester's answer"),
    Status.APPROVED: N_("An approved request"),
    Status.PROCESSING: N_("A request being processed"),
    Status.READY_TO_SEND: N_("A request whose answer is ready to send"),
    Status.COMPLETED: N_("A completed request"),
    Status.DENIED: N_("A denied request"),
    Status.FAILED: N_("A failed request"),
    Status.EXPIRED: N_("An expired request"),
    Status.CANCELLED: N_("A cancelled request"),
}
_REFUSED: Mapping[Action, str] = {
    Action.VERIFY_EMAIL: N_("be verified"),
    Action.EXPIRE: N_("expire"),
    Action.START_REVIEW: N_("be put in review"),
    Action.ASK_REQUESTER: N_("be put on hold for the requester"),
    Action.REQUESTER_ANSWERED: N_("be resumed with the requester's answer"),
    Action.APPROVE: N_("be approved"),
    Action.DENY: N_("be denied"),
    Action.START_PROCESSING: N_("be processed"),
    Action.FINISH_PROCESSING: N_("be made ready to send"),
    Action.APPLY_AT_ONCE: N_("be applied at once"),
    Action.COMPLETE: N_("be completed"),
    Action.ANSWER_POSTED: N_("be answered by post"),
    Action.FAIL: N_("be marked as failed"),
    Action.CANCEL: N_("be cancelled"),
    Action.EXTEND: N_("have its deadline extended"),
}
_DOING: Mapping[Action, str] = {
    Action.VERIFY_EMAIL: N_("verify a request"),
    Action.EXPIRE: N_("expire a request"),
    Action.START_REVIEW: N_("start the review of a request"),
    Action.ASK_REQUESTER: N_("ask the requester a question"),
    Action.REQUESTER_ANSWERED: N_("record the requester's answer"),
    Action.APPROVE: N_("approve a request"),
    Action.DENY: N_("deny a request"),
    Action.START_PROCESSING: N_("start processing a request"),
    Action.FINISH_PROCESSING: N_("finish processing a request"),
    Action.APPLY_AT_ONCE: N_("apply a request at once"),
    Action.COMPLETE: N_("complete a request (it is completed when its answer is delivered)"),
    Action.ANSWER_POSTED: N_("record an answer posted"),
    Action.FAIL: N_("mark a request as failed"),
    Action.CANCEL: N_("cancel a request"),
    Action.EXTEND: N_("extend a deadline"),
}
_ACTOR_NAME: Mapping[Actor, str] = {
    Actor.STAFF: N_("staff"),
    Actor.REQUESTER: N_("the requester"),
    Actor.SYSTEM: N_("the system"),
}
_REASON_MISSING: Mapping[Action, str] = {
    Action.DENY: N_("Give the reason for the refusal: it is sent to the requester."),
    Action.FAIL: N_("Give the reason for the failure."),
    Action.EXTEND: N_("Give the reason for the extension: it is sent to the requester."),
}


@dataclass(frozen=True, slots=True)
class RequestState:
    """What the workflow needs to know about one request; the store keeps it in its columns.

    `paused_since` is set exactly while the request waits for the requester; `paused_total` is the
    sum of the pauses already over. Both only ever grow the deadline. `zone` is the calendar the
    deadline is counted on: the organisation's zone when the request was received, kept with it
    so that a later change of the map does not move the deadlines already given.
    """

    status: Status
    received_at: datetime
    paused_since: datetime | None = None
    paused_total: timedelta = timedelta(0)
    extension_months: int = 0
    extension_reason: str | None = None
    extension_ground: ExtensionGround | None = None  # None only for extensions stored before
    zone: tzinfo = field(kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if not isinstance(self.zone, tzinfo):
            raise ValueError("zone must be the time zone of the organisation's calendar")
        object.__setattr__(self, "received_at", _utc(self.received_at, "received_at"))
        if self.paused_since is not None:
            object.__setattr__(self, "paused_since", _utc(self.paused_since, "paused_since"))
        if (self.paused_since is not None) != (self.status is Status.AWAITING_REQUESTER):
            raise ValueError("paused_since is set exactly while awaiting the requester")
        if self.paused_since is not None and self.paused_since < self.received_at:
            raise ValueError("paused_since is before the request was received")
        if self.paused_total < timedelta(0):
            raise ValueError("paused_total cannot be negative")
        if not 0 <= self.extension_months <= MAX_EXTENSION_MONTHS:
            raise ValueError(f"extension_months must be 0 to {MAX_EXTENSION_MONTHS}")
        if (self.extension_months > 0) != bool(self.extension_reason):
            raise ValueError("an extension and its reason go together")
        if self.extension_ground is not None:
            object.__setattr__(self, "extension_ground", ExtensionGround(self.extension_ground))
            if not self.extension_months:
                raise ValueError("a ground goes with an extension")

    @classmethod
    def new(cls, received_at: datetime, *, zone: tzinfo) -> RequestState:
        """Return the state of a request just received, its deadline counted on `zone`."""
        return cls(status=Status.RECEIVED, received_at=received_at, zone=zone)

    @property
    def is_terminal(self) -> bool:
        """Whether the request is closed (completed, denied, expired, cancelled): no deadline."""
        return self.status in TERMINAL

    @property
    def is_paused(self) -> bool:
        return self.paused_since is not None

    @property
    def due_at(self) -> datetime:
        """The deadline counting the pauses that are over (an ongoing pause is not yet added)."""
        return deadline_for(
            self.received_at,
            zone=self.zone,
            paused=self.paused_total,
            extension_months=self.extension_months,
        )

    def is_overdue(self, at: datetime) -> bool:
        """Whether the answer is late at `at`. While the request waits for the requester the
        clock stands still: it is late only if it already was when the wait began."""
        if self.is_terminal:
            return False
        if self.paused_since is not None:
            return self.due_at < self.paused_since
        return _utc(at, "at") > self.due_at

    def paused_as_of(self, at: datetime) -> timedelta:
        """Return the total paused time, counting an ongoing pause up to `at`."""
        if self.paused_since is None:
            return self.paused_total
        return self.paused_total + max(timedelta(0), _utc(at, "at") - self.paused_since)

    def due_as_of(self, at: datetime) -> datetime:
        """Return the deadline as it stands at `at`: while paused, it moves on by a day for each
        whole day of the pauses so far (`deadline_for`).

        `is_overdue`, not a comparison with `due_at`, tells whether a request is late.
        """
        return deadline_for(
            self.received_at,
            zone=self.zone,
            paused=self.paused_as_of(at),
            extension_months=self.extension_months,
        )


@dataclass(frozen=True, slots=True)
class AuditFact:
    """What one step did, to be written to the audit log with the new state (R8).

    `dsr.audit.models.record_event` is the one place that turns it into an audit event.
    """

    actor: Actor
    action: Action
    from_status: Status
    to_status: Status
    at: datetime
    reason: str | None = None
    months: int | None = None  # the extension granted, for `extend`
    ground: ExtensionGround | None = None  # its ground (Art. 12(3)), for `extend`


@dataclass(frozen=True, slots=True)
class Transition:
    state: RequestState
    fact: AuditFact


def available_actions(status: Status, actor: Actor) -> tuple[Action, ...]:
    """Return the actions `actor` may take on a request in `status`, in declaration order."""
    return tuple(
        action for action in Action if (status, action) in TRANSITIONS and actor in ACTORS[action]
    )


def apply(
    state: RequestState,
    action: Action,
    *,
    actor: Actor,
    at: datetime,
    reason: str | None = None,
    months: int | None = None,
    ground: ExtensionGround | str | None = None,
) -> Transition:
    """Take `action` on a request in `state`; return the new state and the fact to audit.

    Raise `WorkflowError` (a message for the user) when the rules forbid the step, and
    `ValueError` when the caller passes impossible input (a naive or backward time).
    """
    action = Action(action)
    actor = Actor(actor)
    at = _utc(at, "at")
    if at < state.received_at:
        raise ValueError("at is before the request was received")
    if state.paused_since is not None and at < state.paused_since:
        raise ValueError("at is before the pause started: the deadline cannot move earlier")
    if months is not None and action is not Action.EXTEND:
        raise ValueError("months is only for extend")
    if ground is not None and action is not Action.EXTEND:
        raise ValueError("ground is only for extend")
    if reason is not None:
        reason = reason.strip() or None

    if actor not in ACTORS[action]:
        names = [Phrase(name) for name in sorted(_ACTOR_NAME[who] for who in ACTORS[action])]
        allowed = names[0]
        for other in names[1:]:
            allowed = Phrase(N_("%(one)s or %(other)s"), one=allowed, other=other)
        raise WorkflowError(
            N_("Only %(allowed)s can %(doing)s."), allowed=allowed, doing=Phrase(_DOING[action])
        )
    target = TRANSITIONS.get((state.status, action))
    if target is None:
        raise WorkflowError(
            N_("%(subject)s cannot %(refused)s."),
            subject=Phrase(_SUBJECT[state.status]),
            refused=Phrase(_REFUSED[action]),
        )
    if action in REASON_REQUIRED and reason is None:
        raise WorkflowError(_REASON_MISSING[action])

    if action is Action.EXTEND:
        new_state = _extend(state, at=at, reason=reason, months=months, ground=ground)
    else:
        new_state = _move(state, target, at=at)
    fact = AuditFact(
        actor=actor,
        action=action,
        from_status=state.status,
        to_status=new_state.status,
        at=at,
        reason=reason,
        months=months,  # None unless extending: checked above
        ground=new_state.extension_ground if action is Action.EXTEND else None,
    )
    return Transition(state=new_state, fact=fact)


def _move(state: RequestState, target: Status, *, at: datetime) -> RequestState:
    """Change the status: waiting for the requester stops the clock, leaving it adds the pause."""
    paused_since, paused_total = state.paused_since, state.paused_total
    if target is Status.AWAITING_REQUESTER:
        paused_since = at
    elif paused_since is not None:
        paused_total += at - paused_since
        paused_since = None
    return replace(state, status=target, paused_since=paused_since, paused_total=paused_total)


def _extend(
    state: RequestState,
    *,
    at: datetime,
    reason: str | None,
    months: int | None,
    ground: ExtensionGround | str | None,
) -> RequestState:
    """Extend the deadline once, by one or two months, before the first month ends, on one of
    the grounds Art. 12(3) allows (R4)."""
    if state.extension_months:
        raise WorkflowError(N_("The deadline has already been extended once: it cannot be again."))
    if months is None or isinstance(months, bool) or not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise WorkflowError(N_("An extension is of one or two months."))
    chosen = extension_ground(ground)
    if chosen is None:
        raise WorkflowError(
            N_(
                "Choose the ground of the extension: the complexity of the request or the number "
                "of requests, the only ones Article 12(3) allows."
            )
        )
    original_due = deadline_for(state.received_at, zone=state.zone, paused=state.paused_as_of(at))
    if at > original_due:
        raise WorkflowError(
            N_(
                "The deadline can no longer be extended: the requester must be told before the "
                "first month ends."
            )
        )
    return replace(state, extension_months=months, extension_reason=reason, extension_ground=chosen)
