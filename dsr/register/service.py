"""Record the versions of the register: a new one when the register is produced from a map whose
digest differs from the last version's; the same one otherwise."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from gettext import NullTranslations
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dsr.db import utcnow
from dsr.register.models import RegisterVersion
from exports.ropa import DeskRetention, Edition
from exports.ropa_versions import (
    Outline,
    RegisterChange,
    describe_change,
    map_digest,
    map_outline,
    outline_changes,
)
from inventory.model import DataMap


def desk_retention(settings: Mapping[str, Any]) -> DeskRetention:
    """The desk's own retention settings (R32), for its activity in the register."""
    return DeskRetention(
        closed_request_days=int(settings["CLOSED_REQUEST_RETENTION_DAYS"]),
        delivery_days=int(settings["DELIVERY_DAYS"]),
    )


@dataclass(frozen=True)
class Version:
    """A recorded version: its number, date, digest and changes since the previous one."""

    number: int
    produced_at: datetime
    digest: str
    changes: list[RegisterChange]

    def described(self, translations: NullTranslations) -> list[str]:
        return [describe_change(change, translations) for change in self.changes]

    def edition(self, data_map: DataMap, translations: NullTranslations) -> Edition:
        """This version as the documents print it: dated in the organisation's zone, its
        changes in the language of `translations`."""
        return Edition(
            number=self.number,
            produced=self.produced_at.astimezone(data_map.organisation.zone).date(),
            digest=self.digest,
            changes=self.described(translations),
        )


def _version(row: RegisterVersion) -> Version:
    return Version(
        number=row.number,
        produced_at=row.produced_at,
        digest=row.digest,
        changes=[RegisterChange(*change) for change in json.loads(row.changes)],
    )


def _last(session: Session) -> RegisterVersion | None:
    return session.exec(
        select(RegisterVersion).order_by(col(RegisterVersion.number).desc()).limit(1)
    ).first()


def latest_version(session: Session) -> Version | None:
    """Return the last version recorded, if any."""
    row = _last(session)
    return None if row is None else _version(row)


def register_version(
    session: Session, data_map: DataMap, *, now: datetime | None = None
) -> Version:
    """Return the version of the register produced from `data_map`: the last one when the map's
    digest is the same, else a new one (numbered next) with what changed since the last, added
    to `session` (the caller commits)."""
    digest = map_digest(data_map)
    while True:
        last = _last(session)
        if last is not None and last.digest == digest:
            return _version(last)
        outline = map_outline(data_map)
        previous: Outline | None = None if last is None else json.loads(last.outline)
        changes = outline_changes(previous, outline)
        row = RegisterVersion(
            number=1 if last is None else last.number + 1,
            digest=digest,
            produced_at=now or utcnow(),
            outline=json.dumps(outline, sort_keys=True),
            changes=json.dumps([[c.section, c.key, c.change] for c in changes]),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another process recorded that number first: read again
            continue
        return _version(row)
