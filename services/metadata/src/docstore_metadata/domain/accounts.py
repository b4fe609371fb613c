"""Accounts: sign-up rules and password hashing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8

_hasher = PasswordHasher()


class InvalidSignup(ValueError):
    """Sign-up input that breaks a rule; the message says which."""


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    email: str
    plan: str
    home_region: str
    password_hash: str
    created_at: datetime


def normalise_username(username: str) -> str:
    return username.strip().lower()


def new_account(*, username: str, email: str, password: str, plan: str, region: str) -> Account:
    """Check sign-up input and build the account, with the password argon2-hashed."""
    username = normalise_username(username)
    if not USERNAME.match(username):
        raise InvalidSignup("username: 3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
    if not EMAIL.match(email.strip()) or len(email) > 254:
        raise InvalidSignup("email: not a valid address")
    if len(password) < MIN_PASSWORD:
        raise InvalidSignup(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidSignup("password: at most 1024 characters")
    return Account(
        id=str(uuid.uuid4()),
        username=username,
        email=email.strip(),
        plan=plan,
        home_region=region,
        password_hash=_hasher.hash(password),
        created_at=datetime.now(UTC),
    )


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against a real hash when the user does not exist keeps timing the same.
_DUMMY_HASH = _hasher.hash(uuid.uuid4().hex)


def burn_verification(password: str) -> None:
    password_matches(_DUMMY_HASH, password)
