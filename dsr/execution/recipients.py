"""What the recipients of a subject's data are told after an erasure, a rectification, a
restriction or its lifting (Art. 19, R25, R49): one task per recipient that received a changed
field, with a message ready to send naming the subject only by the request's reference; what
the recipient needs to find the person is on the task, for staff only.

Who received what comes from the map (categories, `receives`) and, for a recipient whose rows are
marked as sent (`disclosed_when`), from the disclosures of the subject's live rows, recorded just
before the change, and those recorded before a sweep deleted the rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from dsr.datamap import open_systems
from dsr.db import table_of
from dsr.disclosures.service import record_disclosures, recorded_disclosures
from dsr.execution.targets import email_identity
from dsr.languages import N_, staff_language, translations
from dsr.requests.models import DataRequest, Task, TaskKind, TaskStatus
from dsr.suppression.service import suppression_key
from inventory.disclosures import Disclosed, subject_disclosures
from inventory.locator import category_counts, locate_subject
from inventory.model import DataMap
from inventory.recipients import (
    Concerned,
    FieldRef,
    all_recipients,
    category_fields,
    recipients_of_fields,
)

RECIPIENT_TASK_DAYS = 14
"""A recipient is to be told without undue delay: its task is due this many days after opening."""

TASK_TITLES: Mapping[str, str] = {
    "erasure": N_("Notify %(recipient)s of the erasure (%(reference)s)"),
    "restriction": N_("Notify %(recipient)s of the restriction (%(reference)s)"),
    "rectification": N_("Notify %(recipient)s of the rectification (%(reference)s)"),
}
"""The title of a recipient's task, by the occasion of the change (message ids)."""
OTHER_CHANGE = N_("Notify %(recipient)s of the change (%(reference)s)")


def subject_now(
    settings: Mapping[str, Any],
    data_map: DataMap,
    email: str,
    others: Sequence[tuple[str, str]] = (),
) -> tuple[list[str], list[Disclosed]]:
    """Locate the subject; return the categories in which they have rows and the disclosures of
    their live rows (to record before a change alters them)."""
    systems = open_systems(settings, data_map)
    location = locate_subject(data_map, systems, email_identity(data_map), email, others=others)
    disclosed = subject_disclosures(data_map, systems, location)
    return sorted(category_counts(data_map, location)), disclosed


def tell_recipients(
    db_session: Session,
    data_map: DataMap,
    request: DataRequest,
    *,
    settings: Mapping[str, Any],
    changed: Collection[FieldRef],
    disclosed: Sequence[Disclosed],
    occasion: str,
    what: str,
    now: datetime,
) -> int:
    """Record the disclosures found in the subject's live rows, then open a task for each
    recipient that received a changed field; return how many tasks were opened."""
    key = suppression_key(settings)
    email = request.subject_address
    record_disclosures(db_session, disclosed, key=key, now=now, email=email)
    concerned = recipients_to_tell(db_session, data_map, email=email, key=key, changed=changed)
    return open_recipient_tasks(
        db_session,
        data_map,
        request,
        concerned,
        occasion=occasion,
        what=what,
        now=now,
        subject_identity=email,
        settings=settings,
    )


def recipients_to_tell(
    store: Session | Connection,
    data_map: DataMap,
    *,
    email: str,
    key: bytes,
    changed: Collection[FieldRef],
    erasure: bool = False,
) -> list[Concerned]:
    """Return the recipients that received a changed field of this person; for an erasure, also
    every recipient the desk recorded a disclosure to (it holds data the erasure concerns).
    `store`: a session, or a connection, whose transaction reads the recorded disclosures."""
    recorded = {r.recipient: r.categories for r in recorded_disclosures(store, email, key=key)}
    found = {c.recipient: c.categories for c in recipients_of_fields(data_map, changed, recorded)}
    if erasure:
        for recipient, categories in recorded.items():
            found[recipient] = tuple(dict.fromkeys([*found.get(recipient, ()), *categories]))
    order = all_recipients(data_map)
    ranked = sorted(found, key=lambda r: order.index(r) if r in order else len(order))
    return [Concerned(r, found[r]) for r in ranked]


def erased_fields(data_map: DataMap, categories: Sequence[str]) -> set[FieldRef]:
    """Return the fields an erasure or restriction of these categories changes."""
    return category_fields(data_map, categories)


def open_recipient_tasks(
    db_session: Session,
    data_map: DataMap,
    request: DataRequest,
    concerned: Sequence[Concerned],
    *,
    occasion: str,
    what: str,
    now: datetime,
    subject_identity: str | None = None,
    settings: Mapping[str, Any],
) -> int:
    """Open one task per concerned recipient, with a message ready to send and, for staff,
    `subject_identity`, its title and notes in the language staff read (the desk's
    `settings`); return how many were opened (none twice for one request and occasion)."""
    if not concerned:
        return 0
    catalogue = translations(staff_language(settings))
    existing = {
        tuple(row) for row in db_session.execute(_opened_tasks(), {"p_request": request.id})
    }
    opened: list[dict[str, object]] = []
    for one in concerned:
        known = data_map.recipients.get(one.recipient)
        name = known.name.get("fr") if known is not None else one.recipient
        title = catalogue.gettext(TASK_TITLES.get(occasion, OTHER_CHANGE)) % {
            "recipient": name,
            "reference": request.reference,
        }
        title = title[:200]
        if (one.recipient, title) in existing:
            continue
        contact = known.contact_email if known is not None else None
        titles = ", ".join(
            data_map.categories[c].title.get("fr")
            for c in one.categories
            if c in data_map.categories
        )
        message = recipient_message(
            organisation=data_map.organisation.name,
            recipient=name,
            reference=request.reference,
            categories=titles,
            what=what,
        )
        to = (
            catalogue.gettext("To: %(contact)s") % {"contact": contact}
            if contact
            else catalogue.gettext("Contact: see the map.")
        )
        opened.append(
            {
                "request_id": request.id,
                "kind": TaskKind.NOTIFY_RECIPIENT,
                "status": TaskStatus.OPEN,
                "title": title,
                "details": f"{to}\n\n{message}",
                "recipient": one.recipient,
                "category": one.categories[0] if len(one.categories) == 1 else None,
                "created_at": now,
                "due_at": now + timedelta(days=RECIPIENT_TASK_DAYS),
                "subject_identity": subject_identity,
            }
        )
    if opened:  # in one statement, in Core: the ORM's unit of work cost more than the INSERT
        db_session.execute(_task_insert(), opened)
    return len(opened)


@cache
def _opened_tasks() -> Select[str | None, str]:
    """The recipients' tasks a request has (recipient and title): a statement built once."""
    tasks = table_of(Task)
    return select(tasks.c.recipient, tasks.c.title).where(
        tasks.c.request_id == bindparam("p_request"),
        tasks.c.kind == TaskKind.NOTIFY_RECIPIENT,
    )


@cache
def _task_insert() -> Insert:
    return insert(table_of(Task))


def recipient_message(
    *, organisation: str, recipient: str, reference: str, categories: str, what: str
) -> str:
    """Return the message that tells a recipient of a change, naming no one but by reference: the
    person's identity goes with it by a secure channel agreed with the recipient."""
    return (
        f"Bonjour,\n\nEn application de l'article 19 du RGPD, {organisation} vous informe "
        f"qu'à la suite de la demande {reference}, {what}\n"
        f"Catégories concernées : {categories}.\n\n"
        f"Merci de répercuter ce changement sur les données que vous avez reçues de nous "
        f"({recipient}) et de nous le confirmer en rappelant la référence {reference}.\n"
    )


ERASED_WHAT = "les données d'une personne ont été effacées de nos systèmes."
RECTIFIED_WHAT = "des données d'une personne ont été rectifiées dans nos systèmes."
RESTRICTED_WHAT = (
    "le traitement des données d'une personne est limité (article 18 du RGPD) : ne les traitez "
    "plus, sauf pour les conserver, jusqu'à ce que nous vous informions de la levée de cette "
    "limitation."
)
LIFTED_WHAT = "la limitation du traitement des données d'une personne a été levée."
"""What a recipient is told happened, in French: the recipients of the map are French."""
