"""The objection to processing on legitimate interests (Art. 21(1)) and post-mortem directives
(loi Informatique et Libertés, art. 85): which of the map's categories each one concerns, and
what carrying it out records.

An accepted objection stops the processing of every category whose legal basis is legitimate
interests: the outcome of each is audited and, when the map declares `changes.objection`, that
change is applied to the subject's rows. A refusal goes through the ordinary denial (the
compelling legitimate grounds are its reason). Post-mortem directives are recorded and
acknowledged: nothing is erased by the desk on their account.
"""

from __future__ import annotations

from sqlmodel import Session

from dsr.audit.models import record_action
from dsr.datamap import desk_map
from dsr.execution.changes import APPLIED_ACTION, change_subject
from dsr.execution.runner import (
    ExecutionContext,
    ExecutionFailed,
    ExecutionResult,
    load_request,
    register_executor,
)
from dsr.execution.targets import ChangeRefused
from dsr.languages import translations
from dsr.requests.emails import EmailKind
from dsr.requests.service import mail_requester
from dsr.requests.workflow import Actor, RequestType
from inventory.model import DataMap, LegalBasis

OBJECTION_CHANGE = "objection"
OBJECTION_ACCEPTED_ACTION = "objection_accepted"
DIRECTIVES_RECORDED_ACTION = "post_mortem_directives_recorded"


def affected_categories(data_map: DataMap, request_type: RequestType) -> list[str]:
    """Return the keys of the map's categories a request of `request_type` concerns, in the
    map's order: those processed on legitimate interests for an objection under Art. 21(1),
    every category for post-mortem directives, none for the other types."""
    if request_type is RequestType.OBJECTION_LEGITIMATE_INTEREST:
        return [
            key
            for key, category in data_map.categories.items()
            if LegalBasis.LEGITIMATE_INTERESTS in category.bases
        ]
    if request_type is RequestType.POST_MORTEM:
        return list(data_map.categories)
    return []


def _execute_objection(context: ExecutionContext) -> ExecutionResult:
    data_map = desk_map(context.settings)
    categories = affected_categories(data_map, context.request_type)
    change = data_map.changes.objection
    rows: dict[str, int] = {}
    total = 0
    if change is not None:
        try:
            outcome = change_subject(  # the person the request is for, by all their identities
                context.settings,
                context.subject,
                OBJECTION_CHANGE,
                now=context.now,
                others=context.other_identities,
            )
        except ChangeRefused as error:
            raise ExecutionFailed(error.message) from None
        rows, total = dict(outcome.rows), outcome.total
    language = context.language.value

    def record(db_session: Session) -> None:
        request = load_request(db_session, context.request_id)
        for key in categories:
            record_action(
                db_session=db_session,
                request=request,
                actor=Actor.SYSTEM,
                action=OBJECTION_ACCEPTED_ACTION,
                at=context.now,
                details={"category": key, "outcome": "processing_stopped"},
            )
        if change is not None:
            record_action(
                db_session=db_session,
                request=request,
                actor=Actor.SYSTEM,
                action=APPLIED_ACTION,
                at=context.now,
                details={"change": OBJECTION_CHANGE, "rows": total, "tables": rows},
            )
        t = translations(request.language)
        titles = [data_map.categories[key].title.get(language) for key in categories]
        lines = [
            t.gettext(
                "We accepted your objection: we no longer process your data on the basis of "
                "our legitimate interests."
            )
        ]
        if titles:
            lines.append(t.gettext("The processing of these data stops:"))
            lines.extend(f"- {title}" for title in titles)
        else:
            lines.append(t.gettext("None of your data is processed on that basis."))
        if change is not None:
            lines.append(change.description.get(language))
        mail_requester(
            db_session,
            request,
            EmailKind.CHANGE_DONE,
            dedup_key=f"change-done:{request.id}",
            now=context.now,
            answers=True,
            description="\n".join(lines),
        )

    return ExecutionResult(details={"categories": len(categories), "rows": total}, record=record)


def _execute_post_mortem(context: ExecutionContext) -> ExecutionResult:
    data_map = desk_map(context.settings)
    categories = affected_categories(data_map, context.request_type)

    def record(db_session: Session) -> None:
        request = load_request(db_session, context.request_id)
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.SYSTEM,
            action=DIRECTIVES_RECORDED_ACTION,
            at=context.now,
            details={"categories": len(categories)},
        )
        mail_requester(
            db_session,
            request,
            EmailKind.DIRECTIVES_RECORDED,
            dedup_key=f"directives-recorded:{request.id}",
            now=context.now,
            answers=True,
            designee_name=request.designee_name or "",
            designee_email=request.designee_email or "",
            categories=[
                data_map.categories[key].title.get(request.language.value) for key in categories
            ],
        )

    return ExecutionResult(details={"categories": len(categories)}, record=record)


register_executor(RequestType.OBJECTION_LEGITIMATE_INTEREST, _execute_objection)
register_executor(RequestType.POST_MORTEM, _execute_post_mortem)
