"""What metadata's own rules need of identity (issue 36: identity itself is `services/accounts`):
usernames as the accounts service stores them, link passwords hashed as account passwords are,
and the refusal of an action that needs a verified address."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from docstore_kit.errors import Forbidden

_hasher = PasswordHasher()


def normalise_username(username: str) -> str:
    return username.strip().lower()


def hash_password(password: str) -> str:
    """argon2id of `password` (the library's defaults): how link passwords are stored."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against a real hash when nothing is to be checked keeps timing the same.
_DUMMY_HASH = _hasher.hash(uuid.uuid4().hex)


def burn_verification(password: str) -> None:
    password_matches(_DUMMY_HASH, password)


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
