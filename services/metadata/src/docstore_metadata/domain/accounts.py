"""Accounts: sign-up rules and password hashing."""

from __future__ import annotations

import os
import re
import time
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


def new_account_id(now_ms: int | None = None) -> str:
    """A UUID whose first 48 bits are the sign-up time in milliseconds (the UUIDv7 layout).

    Ids sort by sign-up time, so "the lower id wins" (see `username_winner`) means the
    earlier sign-up wins, and every region reaches the same verdict with no clock of its own.
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def username_winner(first_id: str, second_id: str) -> str:
    """Of two accounts in different regions holding one username, the one that keeps it.

    The lower id (= the earlier sign-up, to the millisecond; random after that) wins.
    Both regions compute this from the two ids alone, so they agree without talking.
    """
    return min(first_id, second_id)


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
        id=new_account_id(),
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
