"""Password hashes as DocStore stores them (account passwords in accounts, link passwords in
links): argon2id through argon2-cffi, and the cost switch the test platforms use.

Plumbing, not a rule: which passwords are good enough is accounts' domain (`check_password`).
"""

from __future__ import annotations

import uuid

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_HASH_COSTS = ("standard", "test-only-cheapest")
"""How costly a new password hash is. `standard`: argon2-cffi's defaults (RFC 9106's second
recommended option: 64 MiB, 3 passes, 4 lanes; about 0.2 s of CPU per hash or check).
`test-only-cheapest`: the library's own `argon2.profiles.CHEAPEST`, "only for testing", so the
test platforms' thousands of sign-ups and logins cost milliseconds (the settings refuse it outside
development). A hash records its own parameters, so a check works whatever cost made it."""


def _hasher_for(cost: str) -> PasswordHasher:
    if cost == "test-only-cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    if cost != "standard":
        raise ValueError(f"unknown password hash cost {cost!r}: one of {', '.join(PASSWORD_HASH_COSTS)}")
    return PasswordHasher()


_hasher = _hasher_for("standard")
# Verifying against a real hash when there is nothing to check (no such user, no password on the
# link) keeps the answer's time the same.
_dummy_hash = _hasher.hash(uuid.uuid4().hex)


def hash_password(password: str) -> str:
    """argon2id of `password`, at the process's cost; check one with `password_matches`."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether `password` is the one `password_hash` was made from (False for a malformed hash)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verification(password: str) -> None:
    """Spend what checking a password costs, with nothing to check."""
    password_matches(_dummy_hash, password)


def use_password_hash_cost(cost: str) -> None:
    """Hash new passwords, and burn dummy checks, at `cost` (one of `PASSWORD_HASH_COSTS`) from
    now on, in the whole process; the composition root calls it once with the service's setting."""
    global _hasher, _dummy_hash
    _hasher = _hasher_for(cost)
    _dummy_hash = _hasher.hash(uuid.uuid4().hex)
