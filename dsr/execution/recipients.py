"""What the recipients of a subject's data are told after an erasure or a rectification (Art. 19,
R25): one task per recipient, with a message ready to send, naming the subject only by the
request's reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session
from sqlmodel import select as model_select

from dsr.requests.models import DataRequest, Task, TaskKind
from inventory.model import DataMap


def open_recipient_tasks(
    db_session: Session,
    data_map: DataMap,
    request: DataRequest,
    categories: Sequence[str],
    *,
    what: str,
    now: datetime,
) -> int:
    """Open one task per recipient of the affected categories, with a message ready to send
    (Art. 19, R25); return how many were opened (none twice for one request)."""
    wanted: dict[str, list[str]] = {}
    for category_id in categories:
        for recipient in data_map.categories[category_id].recipients:
            wanted.setdefault(recipient, []).append(category_id)
    existing = set(
        db_session.exec(
            model_select(Task.recipient).where(
                Task.request_id == request.id, Task.kind == TaskKind.NOTIFY_RECIPIENT
            )
        ).all()
    )
    opened = 0
    for recipient_id, category_ids in wanted.items():
        if recipient_id in existing:
            continue
        known = data_map.recipients.get(recipient_id)
        name = known.name.get("fr") if known is not None else recipient_id
        contact = known.contact_email if known is not None else None
        titles = ", ".join(data_map.categories[c].title.get("fr") for c in category_ids)
        message = recipient_message(
            organisation=data_map.organisation.name,
            recipient=name,
            reference=request.reference,
            categories=titles,
            what=what,
        )
        details = (
            f"To: {contact}\n\n{message}" if contact else f"Contact: see the map.\n\n{message}"
        )
        db_session.add(
            Task(
                request_id=request.id,
                kind=TaskKind.NOTIFY_RECIPIENT,
                title=f"Notify {name} ({request.reference})"[:200],
                details=details,
                recipient=recipient_id,
                category=category_ids[0] if len(category_ids) == 1 else None,
                created_at=now,
                due_at=request.due_at,
            )
        )
        opened += 1
    db_session.flush()
    return opened


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
"""What a recipient is told happened, in French: the recipients of the map are French."""
