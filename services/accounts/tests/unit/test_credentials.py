"""The pure rules of account security (domain/credentials.py): mailed tokens, TOTP replay,
recovery codes, Fernet encryption of secrets with rotation, and the verification rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet

from docstore_accounts.domain.credentials import (
    TOKEN_LIFETIMES,
    EmailNotVerified,
    LinkInvalid,
    SecretBox,
    check_token_row,
    issue_token,
    matching_recovery,
    new_recovery_codes,
    new_totp_secret,
    otpauth_uri,
    parse_keys,
    qr_svg,
    recovery_digest,
    require_verified_email,
    token_digest,
    totp_step,
)

NOW = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


def test_a_token_is_random_and_stored_only_as_its_digest() -> None:
    first, second = issue_token("reset-password", NOW), issue_token("reset-password", NOW)
    assert first.token != second.token and len(first.token) >= 43  # 256 bits, URL-safe
    assert first.digest == token_digest(first.token) and first.token not in first.digest
    assert first.expires_at == NOW + timedelta(minutes=30)
    assert issue_token("verify-email", NOW).expires_at == NOW + timedelta(hours=48)
    assert TOKEN_LIFETIMES["change-email"] == timedelta(hours=48)


def _row(purpose: str = "reset-password", *, used: bool = False, expires: datetime | None = None) -> dict:
    return {
        "purpose": purpose,
        "used_at": NOW if used else None,
        "expires_at": expires or NOW + timedelta(minutes=30),
        "account_id": "a",
    }


def test_a_token_works_once_in_time_for_its_purpose() -> None:
    assert check_token_row(_row(), "reset-password", NOW)["account_id"] == "a"
    for row, purpose in [
        (None, "reset-password"),
        (_row(used=True), "reset-password"),
        (_row(expires=NOW), "reset-password"),
        (_row(expires=NOW - timedelta(seconds=1)), "reset-password"),
        (_row("verify-email"), "reset-password"),
    ]:
        with pytest.raises(LinkInvalid) as refused:
            check_token_row(row, purpose, NOW)
        assert refused.value.status == 400 and "Ask for a new one" in str(refused.value)


def test_a_naive_expiry_from_mongodb_reads_as_utc() -> None:
    row = _row(expires=(NOW + timedelta(minutes=1)).replace(tzinfo=None))
    assert check_token_row(row, "reset-password", NOW)


def test_a_totp_code_is_accepted_once_and_older_ones_never_after_it() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    code = totp.at(NOW)
    step = totp_step(secret, code, NOW, None)
    assert step == int(NOW.timestamp()) // 30
    assert totp_step(secret, code, NOW, step) is None  # the same code again: a replay
    assert totp_step(secret, totp.at(NOW - timedelta(seconds=30)), NOW, step) is None  # an older one
    later = totp.at(NOW + timedelta(seconds=30))
    assert totp_step(secret, later, NOW, step) == step + 1  # the next window's code (clock drift)
    assert totp_step(secret, totp.at(NOW + timedelta(minutes=5)), NOW, None) is None  # far out of window
    assert totp_step(secret, "12345", NOW, None) is None and totp_step(secret, "abcdef", NOW, None) is None
    assert totp_step(secret, f"{code[:3]} {code[3:]}", NOW, None) == step  # spaces typed by hand


def test_enrolment_gives_a_uri_and_an_svg_qr_code() -> None:
    secret = new_totp_secret()
    uri = otpauth_uri(secret, "ada")
    assert uri.startswith("otpauth://totp/DocStore:ada?") and f"secret={secret}" in uri and "issuer=DocStore" in uri
    svg = qr_svg(uri)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.rstrip().endswith("</svg>")


def test_recovery_codes_are_distinct_and_matched_by_digest_ignoring_case_and_dashes() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(code) == 14 and code.count("-") == 2 for code in codes)
    digests = [recovery_digest(code) for code in codes]
    assert codes[0] not in "".join(digests)
    assert matching_recovery(codes[3].upper().replace("-", " "), digests) == digests[3]
    assert matching_recovery("aaaa-bbbb-cccc", digests) is None


def test_secrets_are_encrypted_and_survive_a_key_rotation() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = SecretBox([old])
    ciphertext = before.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in ciphertext
    during = SecretBox(parse_keys(f"{new}, {old}"))  # new key first: it encrypts, both decrypt
    assert during.decrypt(ciphertext) == "JBSWY3DPEHPK3PXP"
    rotated = during.rotate(ciphertext)
    after = SecretBox([new])  # the old key dropped once everything was re-encrypted
    assert after.decrypt(rotated) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError):
        after.decrypt(ciphertext)  # dropped too early: refused, not garbage
    with pytest.raises(ValueError):
        SecretBox([])


def test_sharing_waits_for_a_verified_address_but_older_accounts_count_as_verified() -> None:
    with pytest.raises(EmailNotVerified) as refused:
        require_verified_email({"email_verified": False}, "share documents")
    assert refused.value.status == 403 and "verify your e-mail address before you share documents" in str(refused.value)
    require_verified_email({"email_verified": True}, "share documents")
    require_verified_email({}, "share documents")  # signed up before verification existed
    require_verified_email(None, "share documents")
