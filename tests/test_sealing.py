"""One setting, one key per use: a value sealed for one use never opens for another."""

from __future__ import annotations

import pytest

from dsr.accounts.totp import secret_box
from dsr.sealing import SecretBox
from dsr.worker.enqueue import argument_box


def test_a_sealed_value_opens_only_with_its_key_and_purpose() -> None:
    sealed = SecretBox("one key", b"purpose a").seal("zoe.martin@example.org")
    assert "zoe" not in sealed
    assert SecretBox("one key", b"purpose a").open(sealed) == "zoe.martin@example.org"
    assert SecretBox("one key", b"purpose b").open(sealed) is None
    assert SecretBox("another key", b"purpose a").open(sealed) is None
    assert SecretBox("one key", b"purpose a").open("not a sealed value") is None


def test_a_jobs_argument_does_not_open_as_a_totp_secret() -> None:
    sealed = argument_box({"SECRET_KEY": "k" * 40}).seal("staff@example.org")
    assert argument_box({"SECRET_KEY": "k" * 40}).open(sealed) == "staff@example.org"
    assert secret_box("k" * 40).open(sealed) is None


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        SecretBox("", b"purpose")
