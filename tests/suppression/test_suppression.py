"""The suppression list keeps a keyed hash of each normalised address, never the address: the same
person is found whatever the case or spaces, another key finds nothing, and adding twice is
harmless (the first reason is kept)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsr import db
from dsr.suppression.models import SuppressedAddress, SuppressionReason
from dsr.suppression.service import address_digest, is_suppressed, suppress, suppression_key
from tests.dashboard.conftest import NOW

KEY = b"a key for the suppression tests"
EMAIL = "Zoe.Lefevre@Example.org"


def test_the_digest_is_an_hmac_of_the_normalised_address() -> None:
    expected = hmac.new(KEY, b"zoe.lefevre@example.org", hashlib.sha256).hexdigest()
    assert address_digest("  ZOE.lefevre@example.ORG ", KEY) == expected
    assert address_digest(EMAIL, b"another key") != expected


def test_the_key_is_the_suppression_key_else_the_secret_key() -> None:
    assert suppression_key({"SECRET_KEY": "s", "SUPPRESSION_KEY": "k"}) == b"k"
    assert suppression_key({"SECRET_KEY": "s"}) == b"s"
    with pytest.raises(ValueError, match="DSR_SUPPRESSION_KEY or DSR_SECRET_KEY"):
        suppression_key({})


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_an_address_is_suppressed_once_and_stored_only_as_a_hash(store: Engine) -> None:
    with db.transaction(store) as session:
        assert not is_suppressed(db_session=session, email=EMAIL, key=KEY)
        assert suppress(
            db_session=session, email=EMAIL, reason=SuppressionReason.OBJECTION, now=NOW, key=KEY
        )
        assert not suppress(
            db_session=session,
            email="zoe.lefevre@example.org ",
            reason=SuppressionReason.ERASURE,
            now=NOW,
            key=KEY,
        )
    with Session(store) as session:
        [entry] = session.exec(select(SuppressedAddress)).all()
        assert entry.reason is SuppressionReason.OBJECTION
        assert is_suppressed(db_session=session, email="ZOE.LEFEVRE@EXAMPLE.ORG", key=KEY)
        assert not is_suppressed(db_session=session, email=EMAIL, key=b"another key")
        assert not is_suppressed(db_session=session, email="zoe.lefevre@example.com", key=KEY)
    with store.connect() as conn:
        stored = " ".join(
            str(v)
            for row in conn.execute(text("SELECT * FROM dsr_suppressed_address"))
            for v in row
        )
    assert "zoe" not in stored.lower() and "example" not in stored.lower()
