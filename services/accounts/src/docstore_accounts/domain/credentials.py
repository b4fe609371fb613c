"""Credentials beyond the password: single-use mail tokens (verification, reset, e-mail change),
TOTP second factors with replay protection, recovery codes, and the encryption of TOTP secrets.

Pure: no I/O. Tokens and recovery codes are stored only as digests; a TOTP secret only
encrypted (`SecretBox`). Refusals are `DomainError`s with a human `detail`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from docstore_kit.errors import DomainError, Forbidden, Invalid

TokenPurpose = Literal["verify-email", "reset-password", "change-email"]
TOKEN_LIFETIMES: dict[str, timedelta] = {
    "verify-email": timedelta(hours=48),
    "reset-password": timedelta(minutes=30),
    "change-email": timedelta(hours=48),
}
"""How long each kind of mailed link works."""

TOTP_ISSUER = "DocStore"
TOTP_INTERVAL = 30
TOTP_WINDOW = 1
"""Codes of the time step before and after the current one are accepted (clock drift)."""
RECOVERY_CODES = 10


# --- refusals ----------------------------------------------------------------------------------


class LinkInvalid(DomainError):
    """A mailed link that is unknown, used, expired or meant for something else. One answer for
    all of them: telling them apart would tell an attacker which tokens once existed."""

    status: ClassVar[int] = 400
    problem: ClassVar[str] = "link-invalid"
    title: ClassVar[str] = "Link not valid"

    def __init__(self) -> None:
        super().__init__("This link is not valid any more: it was used already, or it expired. Ask for a new one.")


class AddressInUse(DomainError):
    """A verification link for an address another account verified meanwhile (409). Only the
    holder of the mailbox sees it (the link was mailed there), so it may say so."""

    status: ClassVar[int] = 409
    problem: ClassVar[str] = "address-in-use"
    title: ClassVar[str] = "Address in use"

    def __init__(self) -> None:
        super().__init__(
            "This address already belongs to another DocStore account. Sign in to that account, "
            "or reset its password from the sign-in page."
        )


class EmailNotVerified(Forbidden):
    """What an account may not do before its address is verified (share, make public links)."""

    problem: ClassVar[str] = "email-not-verified"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"Please verify your e-mail address before you {action}. "
            "We sent you a link; you can ask for a new one in your account settings."
        )


def require_verified_email(account: dict[str, Any] | None, action: str) -> None:
    """Refuse `action` (e.g. "share documents") for an account whose address is not verified yet.
    Accounts from before verification existed carry no flag and count as verified."""
    if account is not None and account.get("email_verified", True) is False:
        raise EmailNotVerified(action)


class WrongPassword(DomainError):
    status: ClassVar[int] = 403
    problem: ClassVar[str] = "wrong-password"
    title: ClassVar[str] = "Wrong password"

    def __init__(self) -> None:
        super().__init__("The password is not right.")


class WrongCode(DomainError):
    status: ClassVar[int] = 401
    problem: ClassVar[str] = "wrong-code"
    title: ClassVar[str] = "Wrong code"

    def __init__(self, detail: str = "This code is not right, or it was used already. Wait for the next one.") -> None:
        super().__init__(detail)


class MfaState(Invalid):
    """Two-factor sign-in is not in the state the request needs (e.g. confirm without enrol)."""

    status: ClassVar[int] = 409
    problem: ClassVar[str] = "mfa-state"


class TooManyRequests(DomainError):
    status: ClassVar[int] = 429
    problem: ClassVar[str] = "too-many-requests"
    title: ClassVar[str] = "Too many requests"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


# --- single-use tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A token as mailed (`token`, shown once) and as stored (`digest`)."""

    token: str
    digest: str
    purpose: str
    expires_at: datetime


def token_digest(token: str) -> str:
    """SHA-256 of a token, the only form stored. A plain hash is enough for 256 random bits (no
    guessing from the digest) and keeps the lookup one indexed read."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def issue_token(purpose: str, now: datetime) -> IssuedToken:
    """A new random token (256 bits, URL-safe) for `purpose`, with its lifetime."""
    token = secrets.token_urlsafe(32)
    return IssuedToken(token, token_digest(token), purpose, now + TOKEN_LIFETIMES[purpose])


def check_token_row(row: dict[str, Any] | None, purpose: str, now: datetime) -> dict[str, Any]:
    """The stored token `row` if it may be used now for `purpose`; else `LinkInvalid`."""
    if row is None or row.get("purpose") != purpose or row.get("used_at") is not None:
        raise LinkInvalid()
    expires_at = row["expires_at"]
    if expires_at.tzinfo is None:  # MongoDB hands datetimes back naive (UTC)
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    if expires_at <= now:
        raise LinkInvalid()
    return row


# --- TOTP -----------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, RFC 4226's recommendation)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, username: str) -> str:
    """The `otpauth://` URI authenticator apps read (issuer DocStore, the username as label)."""
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as a standalone SVG QR code (with its namespace, without an XML declaration), so a
    page can show it as an image (a data: URL) without parsing it into the document."""
    svg = io.BytesIO()
    segno.make(uri, error="m").save(svg, kind="svg", xmldecl=False, scale=4)
    return svg.getvalue().decode()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` is valid for (within `TOTP_WINDOW` steps of now), or None.

    A step at or before `last_step` (the last one accepted for this account) is refused: a code,
    or an older one, seen once cannot be played again within its window."""
    digits = normalise_code(code)
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int(now.timestamp()) // TOTP_INTERVAL
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            if last_step is not None and step <= last_step:
                return None
            return step
    return None


# --- recovery codes ------------------------------------------------------------------------------

_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""No 0/o, 1/l/i: codes are read off paper and typed by hand."""


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """`count` codes like `k7qm-x2hp-9tcw` (60 bits each), shown once."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_digest(code: str) -> str:
    """The stored form of a recovery code: SHA-256 of it without dashes, spaces or case (60
    random bits each; the attempts are throttled, so a slow hash adds nothing here)."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def matching_recovery(code: str, digests: Iterable[str]) -> str | None:
    """The stored digest `code` matches, or None (compared in constant time)."""
    wanted = recovery_digest(code)
    found = None
    for digest in digests:
        if hmac.compare_digest(digest, wanted):
            found = digest
    return found


# --- secrets at rest -------------------------------------------------------------------------------


class SecretBox:
    """Encrypts TOTP secrets with Fernet (AES-128-CBC + HMAC-SHA256). The first key encrypts; every
    key decrypts, so a rotation is: put the new key first, keep the old one second, re-encrypt
    (`rotate`), then drop the old one."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed (ACCOUNTS_SECRETS_KEYS)")
        self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The secret; `ValueError` when no key opens it (a key dropped too early)."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise ValueError("no configured key decrypts this secret") from error

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted with the first key."""
        return self._fernet.rotate(ciphertext.encode()).decode()


def parse_keys(raw: str) -> list[str]:
    """`ACCOUNTS_SECRETS_KEYS`: comma-separated Fernet keys, the encrypting one first."""
    return [key.strip() for key in raw.split(",") if key.strip()]
