"""The second factor's pure parts: codes with clock drift and no replay, the encrypted secret,
recovery codes and the QR code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dsr.accounts import totp

AT = datetime(2026, 3, 1, 9, 0, 15, tzinfo=UTC)


def test_a_code_is_accepted_within_one_step_and_only_once() -> None:
    secret = totp.new_secret()
    step = totp.time_step(AT)
    code = totp.code_at(secret, AT)
    assert totp.matching_step(secret, code, at=AT, after_step=None) == step
    assert totp.matching_step(secret, f" {code[:3]} {code[3:]} ", at=AT, after_step=None) == step
    assert totp.matching_step(secret, code, at=AT + timedelta(seconds=30), after_step=None) == step
    assert totp.matching_step(secret, code, at=AT + timedelta(seconds=90), after_step=None) is None
    assert totp.matching_step(secret, code, at=AT, after_step=step) is None
    assert totp.matching_step(secret, "12345", at=AT, after_step=None) is None
    assert totp.matching_step(secret, "abcdef", at=AT, after_step=None) is None


def test_the_secret_is_sealed_with_the_key() -> None:
    secret = totp.new_secret()
    sealed = totp.secret_box("key one").seal(secret)
    assert secret not in sealed
    assert totp.secret_box("key one").open(sealed) == secret
    assert totp.secret_box("key two").open(sealed) is None


def test_recovery_codes_are_random_and_forgiving_to_type() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    code = codes[0]
    assert totp.looks_like_recovery_code(code)
    assert totp.normalize_recovery_code(code.upper().replace("-", " ")) == code
    assert totp.recovery_code_digest(code.upper()) == totp.recovery_code_digest(code)
    assert not totp.looks_like_recovery_code("123456")


def test_the_qr_code_is_an_svg_without_script() -> None:
    uri = totp.provisioning_uri(totp.new_secret(), account="a@example.org", issuer="Desk")
    assert uri.startswith("otpauth://totp/Desk:a%40example.org?secret=")
    svg = totp.qr_svg(uri, title="Scan me")
    assert svg.startswith("<svg") and "<title>Scan me</title>" in svg
    assert "script" not in svg.lower() and "style=" not in svg
