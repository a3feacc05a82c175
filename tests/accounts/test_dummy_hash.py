"""The hash checked for an address no account has: made on the first login check, not at import
(every `dsr` command and worker would pay for it), and checked for every unknown address."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from dsr.accounts import service
from tests.accounts.helpers import login


def test_importing_the_accounts_service_computes_no_hash() -> None:
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dsr.accounts import service; print(service._dummy_hash.cache_info().currsize)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert made == "0"


def test_an_unknown_address_still_costs_a_hash_verification(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    verify = PasswordHasher.verify

    def counting(hasher: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        checked.append(str(hash))
        return verify(hasher, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    response = login(client, "nobody@example.org", "not the right password")
    assert response.status_code == 200
    assert checked == [service._dummy_hash()]
