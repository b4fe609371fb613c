"""App passwords (issue 36): a password for one tool, not for a person.

A tool that speaks only a username and a password (a WebDAV client, rclone, a script) cannot
answer a second-factor prompt, and should not hold the account's own password. Its owner makes it
an app password instead: named ("rclone on the NAS"), shown once, stored as a SHA-256 digest
(it is 150 random bits, so a fast digest is enough, as for tokens: no argon2 needed), limited to
what it is for (`scope`), listed with its last use, revocable one by one. It works with the
username over HTTP Basic at the gateway, for accounts with two-step sign-in too; never for the
web app's login (which checks the account's own password only) and never for the account's
security (the gateway refuses every `/v1/account...` route to it).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Literal, get_args

from docstore_kit.errors import Conflict, Invalid, NotFound

Scope = Literal["webdav-sync", "read-only"]
SCOPES: tuple[str, ...] = get_args(Scope)
"""`webdav-sync`: the account's files, read and write (a sync client); `read-only`: GET requests only."""

ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
"""32 characters without look-alikes (no l, o, 0, 1): 5 bits each."""
GROUPS, GROUP_LENGTH = 6, 5
"""Six groups of five: 150 random bits, readable to type into a tool's settings."""
MAX_PER_ACCOUNT = 50
NAME_MAX = 64
LAST_USE_EVERY = timedelta(minutes=1)
"""`last_used_at` moves at most once a minute: one conditional write, most checks change nothing."""


class AppPasswordNotFound(NotFound):
    """No app password with this id among the caller's (another account's is not found either)."""

    problem = "app-password-not-found"

    def __init__(self) -> None:
        super().__init__("No app password with this id.")


class TooManyAppPasswords(Conflict):
    problem = "too-many-app-passwords"

    def __init__(self) -> None:
        super().__init__(f"An account has at most {MAX_PER_ACCOUNT} app passwords: revoke one you no longer use.")


class InvalidAppPassword(Invalid):
    problem = "invalid-app-password"


def new_secret() -> str:
    """A fresh app password, `xxxxx-xxxxx-xxxxx-xxxxx-xxxxx-xxxxx`."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))


def canonical(secret: str) -> str:
    """What is digested: lower case, without the dashes and spaces a person may type or leave out."""
    return "".join(secret.split()).replace("-", "").lower()


def digest(secret: str) -> str:
    """The stored form: SHA-256 of the canonical secret, hex."""
    return hashlib.sha256(canonical(secret).encode("utf-8", "surrogatepass")).hexdigest()


def looks_like(secret: str) -> bool:
    """Whether `secret` could be an app password at all (cheap refusal before any lookup)."""
    text = canonical(secret)
    return len(text) == GROUPS * GROUP_LENGTH and all(char in ALPHABET for char in text)


def check_name(name: str) -> str:
    """The name, trimmed; InvalidAppPassword when empty or too long."""
    name = " ".join(name.split())
    if not name:
        raise InvalidAppPassword("Give the app password a name, e.g. the tool and the device it is for.")
    if len(name) > NAME_MAX:
        raise InvalidAppPassword(f"An app password's name has at most {NAME_MAX} characters.")
    return name


def check_scope(scope: str) -> Scope:
    if scope not in SCOPES:
        raise InvalidAppPassword(f"scope must be one of {', '.join(SCOPES)}")
    return scope  # type: ignore[return-value]


def last_use_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a use at `now` is worth recording (at most once per `LAST_USE_EVERY`)."""
    return last_used_at is None or now - last_used_at >= LAST_USE_EVERY


def new_id() -> str:
    return f"apw_{uuid.uuid4().hex}"
