"""`dsr request plan REF`: print what the erasure of a request's subject would do, changing
nothing: per system, in order, each table's category, rows, action, new values, and what is kept,
why and until when (categories under a legal hold too), and the texts of others that staff
confirmed name the person (issue 20). Exit 1 when a constraint blocks the
erasure or a system cannot be read."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from dsr import db
from dsr.commands import in_app_context
from dsr.config import current_settings
from dsr.datamap import desk_map, open_systems
from dsr.db import utcnow
from dsr.execution.erasure import subject_plan
from dsr.execution.targets import ChangeRefused
from dsr.holds.service import active_holds, effective_holds
from dsr.languages import N_, Language, staff_language, translations
from dsr.mentions.service import MentionsPlan, decisions, mentions_plan, possible_mentions
from dsr.requests.labels import staff_status_message, type_name
from dsr.requests.status import get_by_reference
from dsr.requests.workflow import RequestType
from dsr.store_cli import database_url_option, fail_on_database_error
from inventory.anonymisation import ErasurePlanError
from inventory.erasure import ErasurePlan
from inventory.holds import with_holds
from inventory.loader import MapError
from inventory.model import DataMap, ErasureAction, MentionAction
from inventory.phrases import said
from inventory.systems import SystemUnavailable

ACTION_WORDS = {
    ErasureAction.DELETE: N_("delete"),
    ErasureAction.ANONYMIZE: N_("anonymise"),
    ErasureAction.RETAIN: N_("keep"),
}
"""What each step does, as the plan says it (message ids)."""


def format_plan(data_map: DataMap, plan: ErasurePlan, language: Language) -> list[str]:
    """Return the plan as lines of text, system by system, in execution order, in `language`
    (the one staff read)."""
    t, lang = translations(language), language.value
    lines: list[str] = []
    for system, steps in plan.by_system().items():
        lines.append(f"{system}:")
        for step in sorted(steps, key=lambda s: s.order):
            category = data_map.categories.get(step.category)
            title = category.title.get(lang) if category is not None else step.category
            rows = t.ngettext("%(num)d row", "%(num)d rows", step.row_count) % {
                "num": step.row_count
            }
            action = ErasureAction(step.action)
            lines.append(
                f"  {step.order}. {step.table} ({title}): {rows}, {t.gettext(ACTION_WORDS[action])}"
            )
            for column, value in sorted(step.new_values.items()):
                lines.append(f"       {column} -> {said(value, t.gettext)}")
            if step.kind == "side":
                lines.append(
                    "       " + t.gettext("their side only: row kept for the other person")
                )
            elif step.kind == "mention":
                lines.append(
                    "       " + t.gettext("rows belonging to others that name this person")
                )
            if action is ErasureAction.RETAIN:
                if step.legal_reason is not None:
                    why = t.gettext("why: %(reason)s") % {"reason": step.legal_reason.get(lang)}
                    lines.append(f"       {why}")
                if step.until is not None:
                    until = t.gettext("until: %(until)s") % {"until": step.until.get(lang)}
                    lines.append(f"       {until}")
    if not plan.steps:
        lines.append(t.gettext("Nothing to erase: no data was found for this address."))
    for blocked in plan.blocked:
        lines.append(t.gettext("BLOCKED: %(reason)s") % {"reason": said(blocked, t.gettext)})
    return lines


def format_mentions(mentions: MentionsPlan, language: Language) -> list[str]:
    """Return what the erasure does to the texts of others that staff confirmed name the person
    (table, count, action; never a text or a name), and how many possible mentions await a
    decision, in `language`."""
    t = translations(language)
    lines: list[str] = []
    if mentions.confirmed:
        lines.append(t.gettext("Other people's texts confirmed to name this person:"))
    for item in mentions.confirmed:
        values = {"num": item.count, "table": item.table, "replacement": mentions.replacement}
        if item.action is MentionAction.DELETE:
            words = t.ngettext(
                "%(num)d text of %(table)s deleted",
                "%(num)d texts of %(table)s deleted",
                item.count,
            )
        else:
            words = t.ngettext(
                "name replaced by %(replacement)s in %(num)d text of %(table)s",
                "name replaced by %(replacement)s in %(num)d texts of %(table)s",
                item.count,
            )
        lines.append(f"  {item.system}: {words % values}")
    if mentions.undecided:
        lines.append(
            t.ngettext(
                "%(num)d possible mention awaits a decision on the request page (Possible "
                "mentions to review): until confirmed, it is not erased.",
                "%(num)d possible mentions await a decision on the request page (Possible "
                "mentions to review): until confirmed, they are not erased.",
                mentions.undecided,
            )
            % {"num": mentions.undecided}
        )
    return lines


@click.command("plan")
@click.argument("reference")
@database_url_option
@in_app_context
def request_plan_command(reference: str, database_url: str) -> None:
    """Print the erasure plan of request REFERENCE (nothing is changed)."""
    engine = db.make_engine(database_url)
    try:
        with db.transaction(engine) as session:
            found = get_by_reference(session, reference)
            holds = active_holds(session, found.id, utcnow()) if found and found.id else []
            decided = decisions(session, found.id) if found and found.id else {}
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read", error)
    finally:
        engine.dispose()
    settings = current_settings().values
    language = staff_language(settings)
    t = translations(language)
    if found is None:
        click.echo(
            t.gettext("error: no request %(reference)s") % {"reference": reference}, err=True
        )
        raise SystemExit(1)
    try:
        data_map = desk_map(settings)
    except MapError as error:
        problems = t.gettext("the data map has %(count)s problem(s): run `dsr map check`") % {
            "count": len(error.problems)
        }
        click.echo(t.gettext("error: %(reason)s") % {"reason": problems}, err=True)
        raise SystemExit(1) from None
    systems = open_systems(settings, data_map).recheck_schema()
    try:
        held_map = with_holds(data_map, effective_holds(data_map, systems, holds))
        plan = subject_plan(held_map, systems, found.subject_address)
        mentions = (  # issue 20: the texts of others that staff confirmed name the person
            mentions_plan(data_map, possible_mentions(data_map, systems, found), decided)
            if found.type is RequestType.ERASURE
            else MentionsPlan()
        )
    except (SystemUnavailable, ChangeRefused) as error:
        click.echo(t.gettext("error: %(reason)s") % {"reason": error}, err=True)
        raise SystemExit(1) from None
    except ErasurePlanError as error:  # the map asks what a system cannot hold
        click.echo(t.gettext("error: %(reason)s") % {"reason": error.said(t.gettext)}, err=True)
        raise SystemExit(1) from None
    click.echo(
        t.gettext("Erasure plan of %(reference)s (%(type)s, %(status)s)")
        % {
            "reference": found.reference,
            "type": type_name(found.type, t),
            "status": t.gettext(staff_status_message(found.status)),
        }
    )
    for line in format_plan(held_map, plan, language) + format_mentions(mentions, language):
        click.echo(line)
    if plan.blocked:
        raise SystemExit(1)
