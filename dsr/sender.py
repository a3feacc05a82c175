"""Who speaks to the requester: the organisation and its data protection officer, from the map.

Every public page and every email names them (Art. 12-13: the person must know who answers, and
an email that names no one reads like phishing). The names come from the desk's map
(`organisation.name`, `organisation.dpo`), read as the pages and emails are made, so a map
change shows at once; a page is still served when the map cannot be read (the map's own checks
say why), without the line.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, has_app_context

from dsr.datamap import desk_map
from inventory.loader import MapError
from inventory.model import DataMap


@dataclass(frozen=True)
class Sender:
    """The organisation answering requests and how to reach its data protection officer."""

    organisation: str
    dpo: str
    dpo_email: str | None
    dpo_address: str | None
    website: str | None

    @classmethod
    def of(cls, data_map: DataMap) -> Sender:
        organisation = data_map.organisation
        return cls(
            organisation=organisation.name,
            dpo=organisation.dpo.name,
            dpo_email=organisation.dpo.email,
            dpo_address=organisation.dpo.address,
            website=organisation.website,
        )


def current_sender() -> Sender | None:
    """The sender of the current application's map; None outside an application or while its
    map cannot be read."""
    if not has_app_context():
        return None
    try:
        return Sender.of(desk_map(current_app.config))
    except MapError:
        return None


def init_app(app: Flask) -> None:
    """Give every page template the `sender`."""
    app.context_processor(lambda: {"sender": current_sender()})
