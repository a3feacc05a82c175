"""Add addresses to the suppression list and ask whether one is on it.

Functions take the session and flush, never commit. The key is the desk's SUPPRESSION_KEY, or its
SECRET_KEY when none is set: changing it makes the list unreadable, so set it once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dsr.addresses import normalize_email
from dsr.db import insert_unless_taken
from dsr.suppression.models import SuppressedAddress, SuppressionReason


def suppression_key(settings: Mapping[str, Any]) -> bytes:
    """Return the secret the list is keyed with: SUPPRESSION_KEY, else SECRET_KEY."""
    key = settings.get("SUPPRESSION_KEY") or settings.get("SECRET_KEY")
    if not key:
        raise ValueError("the suppression list needs DSR_SUPPRESSION_KEY or DSR_SECRET_KEY")
    return key if isinstance(key, bytes) else str(key).encode()


def _settings_key() -> bytes:
    from flask import current_app  # the desk's configuration, read where it was loaded

    return suppression_key(current_app.config)


def address_digest(email: str, key: bytes) -> str:
    """Return the keyed hash of the normalised address (trimmed, lower-cased)."""
    return hmac.new(key, normalize_email(email).encode(), hashlib.sha256).hexdigest()


def suppress(
    *,
    db_session: Session,
    email: str,
    reason: SuppressionReason,
    now: datetime,
    key: bytes | None = None,
) -> bool:
    """Put the address on the list (the first reason is kept); return True if it was not there.

    `key` defaults to the current application's SUPPRESSION_KEY or SECRET_KEY.
    """
    digest = address_digest(email, key if key is not None else _settings_key())
    dialect = db_session.get_bind().dialect.name
    add = insert_unless_taken(dialect, SuppressedAddress, "address_digest")
    if add is not None:  # one statement: added unless already there
        added = db_session.execute(
            add,
            {"address_digest": digest, "reason": SuppressionReason(reason), "created_at": now},
        )
        return added.first() is not None
    if _entry(db_session, digest) is not None:
        return False
    try:
        with db_session.begin_nested():  # a concurrent twin may add it first
            db_session.add(
                SuppressedAddress(
                    address_digest=digest, reason=SuppressionReason(reason), created_at=now
                )
            )
    except IntegrityError:
        return False
    return True


def is_suppressed(*, db_session: Session, email: str, key: bytes | None = None) -> bool:
    """Tell whether the address is on the list, whatever its case or surrounding spaces."""
    digest = address_digest(email, key if key is not None else _settings_key())
    return _entry(db_session, digest) is not None


def _entry(db_session: Session, digest: str) -> SuppressedAddress | None:
    return db_session.exec(
        select(SuppressedAddress).where(SuppressedAddress.address_digest == digest)
    ).one_or_none()
