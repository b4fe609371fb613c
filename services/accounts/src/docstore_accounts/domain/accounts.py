"""Accounts: sign-up rules, password hashing, username conflicts between regions, and the
refusals of the account use cases (each a `DomainError` carrying its HTTP answer)."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # zxcvbn ships no type information

from docstore_kit.errors import Conflict, DomainError, Invalid, NotFound
from docstore_kit.passwords import hash_password

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MIN_PASSWORD_SCORE = 3
"""zxcvbn's score runs 0-4; below 3 a password falls to an offline guessing attack of ~10^8 guesses."""
SCORED_PREFIX = 72
"""zxcvbn's cost grows fast with length (it refuses more than 72 characters by default): a longer
password is judged by its first 72 code points, which must be hard to guess on their own."""


class InvalidSignup(Invalid):
    """Sign-up input that breaks a rule; the message says which, for people, and `field` names
    the request member at fault, for programs (the sign-up form marks that input)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, Any]:
        # The request member at fault, for programs; the message says it in words.
        return {"field": self.field} if self.field else {}


class UsernameTaken(Conflict):
    """Sign-up with a username somebody already has (here, or another region's replica)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"The username {username} is taken. Please choose another one.")


class AccountNotFound(NotFound):
    def __init__(self, account_id: str) -> None:
        super().__init__("This account could not be found.")
        self.account_id = account_id


class HomeElsewhere(DomainError):
    """The username belongs to an account whose home is another region (this one holds its replica):
    421, with the region to log in at."""

    status: ClassVar[int] = 421
    problem: ClassVar[str] = "home-elsewhere"
    title: ClassVar[str] = "Misdirected request"

    def __init__(self, home_region: str) -> None:
        super().__init__(f"This account is kept in the {home_region} region. Log in there.")
        self.home_region = home_region

    def extra(self) -> dict[str, Any]:
        return {"home_region": self.home_region}


class UsernameLost(Conflict):
    """The account signed up with a username another region gave away at the same moment, and lost it."""

    problem: ClassVar[str] = "username-conflict"

    def __init__(self, account: Mapping[str, Any]) -> None:
        self.username = str(account["username"])
        self.winner_region = str((account.get("conflict_with") or {}).get("home_region", ""))
        super().__init__(
            f"Someone in the {self.winner_region} region signed up as {self.username} at the same moment, "
            "and their sign-up came first. This account can no longer log in with that username."
        )

    def extra(self) -> dict[str, Any]:
        return {"code": "username_conflict", "winner_region": self.winner_region}


class InvalidReplica(Invalid):
    """A replica write that cannot be right (e.g. for an account whose home is this region)."""


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


def replica_state(account: Mapping[str, Any]) -> dict[str, Any]:
    """The minimal state of a home account that other regions keep: nothing secret, no e-mail. The
    ids of its linked OpenID identities (digests, `domain.oidc.identity_id`) go with it, so another
    region sends a sign-in with one of them home instead of making a second account."""
    return {
        "username": account["username"],
        "home_region": account["home_region"],
        "plan": account.get("plan", "free"),
        "status": account.get("status", "active"),
        "version": int(account.get("replica_version", 1)),
        "oidc_identities": [str(one) for one in account.get("oidc_identities") or []],
    }


def status_of(account: Mapping[str, Any]) -> str:
    return str(account.get("status", "active"))


def normalise_username(username: str) -> str:
    return username.strip().lower()


def new_account(*, username: str, email: str, password: str, plan: str, region: str) -> Account:
    """Check sign-up input and build the account, with the password argon2-hashed."""
    username = normalise_username(username)
    if not USERNAME.match(username):
        raise InvalidSignup(
            "A username is 3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or a digit.",
            field="username",
        )
    if not EMAIL.match(email.strip()) or len(email) > 254:
        raise InvalidSignup("This doesn't look like an e-mail address.", field="email")
    check_password(password, username=username, email=email.strip())
    return Account(
        id=new_account_id(),
        username=username,
        email=email.strip(),
        plan=plan,
        home_region=region,
        password_hash=hash_password(password),
        created_at=datetime.now(UTC),
    )


def check_password(password: str, *, username: str = "", email: str = "") -> None:
    """Refuse a password that is too short, too long or easy to guess (NIST SP 800-63B 3.1.1.2).

    Length counts Unicode code points of the password exactly as typed (no trimming, no
    normalisation): spaces and any script are allowed. Guessability is zxcvbn's estimate
    against common passwords, names, words, keyboard patterns, dates and repeats, plus the
    account's own username and e-mail (a password built from them is refused). The message
    says why and how to do better, from zxcvbn's feedback, and never contains the password.
    """
    if len(password) < MIN_PASSWORD:
        raise InvalidSignup(f"A password needs at least {MIN_PASSWORD} characters.", field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidSignup(f"A password can be at most {MAX_PASSWORD} characters long.", field="password")
    result = zxcvbn(password[:SCORED_PREFIX], user_inputs=_personal_words(username, email))
    if result["score"] >= MIN_PASSWORD_SCORE:
        return
    feedback = result.get("feedback") or {}
    advice = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    advice = [line.strip() for line in advice if line and line.strip()]
    if not advice:
        advice = ["A few uncommon words together make a password that is long and easy to remember."]
    raise InvalidSignup(
        "This password is too easy to guess. " + " ".join(_sentence(line) for line in advice), field="password"
    )


def _personal_words(username: str, email: str) -> list[str]:
    """The account's own words for zxcvbn: username, address, and the address's parts."""
    words = {username.strip().lower(), email.strip().lower()}
    local, _, domain = email.strip().lower().partition("@")
    words.add(local)
    # "ada.lovelace" is also typed "adalovelace" or "lovelace": the glued and the separate parts.
    words.update(re.sub(r"[\W_]+", "", name) for name in (username.lower(), local))
    words.update(part for part in re.split(r"[\W_]+", f"{username} {local} {domain}".lower()) if len(part) >= 3)
    return sorted(word for word in words if word)


def _sentence(line: str) -> str:
    return line if line.endswith((".", "!", "?")) else line + "."
