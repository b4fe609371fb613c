"""Finding a person to share with (issue 37), without making an oracle of who has an account.

What a lookup may answer, for a query `q` typed in the share dialog:

- **People the caller already shares with** (either way: the caller shared with them, or they
  shared with the caller) whose username starts with `q`: suggestions while typing. The caller
  knows these names already, so suggesting them tells nothing new.
- **The one account whose username is exactly `q`**: what sharing by username tells anyway (a
  share with a name nobody holds is refused), nothing more. A person at home in another region is
  answered as such (`shareable` false, with the reason), as sharing would refuse them.
- **The one account whose verified e-mail address is exactly `q`** (any case), when `q` holds an
  `@`: metadata keeps no addresses (they are the accounts service's, issue 36), so it asks the
  accounts service, which answers only a verified address of an active account, and answers the
  person by username; the address is never echoed back nor told whether an unverified one exists.
- Never a prefix match over everyone, never part of an address, and at most `LOOKUPS_PER_MINUTE`
  lookups a minute per account (429 beyond, addresses included), so guessing names or addresses
  costs what guessing them at the share button costs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar

from docstore_kit.errors import DomainError, Invalid

LOOKUPS_PER_MINUTE = 60
"""Per account: a person typing a name with suggestions makes one lookup per pause (the web app
waits 250 ms after the last key), far below this; a script guessing names meets it at once."""


def lookups_in_the_last_minute(current: int, previous: int, now: float) -> float:
    """An account's lookups in the 60 seconds before `now`, from its counts in this clock minute
    (`current`) and the one before (`previous`), the earlier one weighed by how much of it is
    still within the last 60 seconds (a sliding-window counter). Counting clock minutes alone
    would let 60 lookups at the end of one minute and 60 at the start of the next all pass."""
    return current + previous * (1 - (now % 60) / 60)


SUGGESTIONS_MAX = 8
QUERY_MAX = 64
ADDRESS_MAX = 254
"""An e-mail address's longest form (RFC 5321's path limit), as the accounts service takes it."""


class TooManyLookups(DomainError):
    status: ClassVar[int] = 429
    problem: ClassVar[str] = "too-many-lookups"
    title: ClassVar[str] = "Too many lookups"
    retry_after: ClassVar[int] = 60

    def __init__(self) -> None:
        super().__init__("You looked up many people in the last minute. Wait a minute, then type the name again.")


def is_address(q: str) -> bool:
    """A query naming an e-mail address (no username holds an `@`): looked up by exact address."""
    return "@" in q


def query_of(raw: str) -> str:
    """The query as usernames are stored (trimmed, lower case); 422 when empty or too long."""
    q = raw.strip().lower()
    if not q or len(q) > (ADDRESS_MAX if is_address(q) else QUERY_MAX):
        raise Invalid(f"Type 1 to {QUERY_MAX} characters of a username, or a whole e-mail address.")
    if any(unicodedata.category(ch).startswith("C") for ch in q):
        # No username holds one, and a NUL would not reach the database's regular expressions.
        raise Invalid("A username has no control characters.")
    return q


def suggestions(contacts: list[Mapping[str, Any]], q: str, caller_id: str, limit: int) -> list[Mapping[str, Any]]:
    """Of the caller's contacts, those a lookup may name whose username starts with `q` (a
    literal prefix) and is not `q` itself (the exact match is answered first), by username."""
    named = [row for row in contacts if usable(row, caller_id) and str(row["username"]).startswith(q)]
    return sorted((row for row in named if row["username"] != q), key=lambda row: str(row["username"]))[:limit]


def person(row: Mapping[str, Any], region: str, *, known: bool) -> dict[str, Any]:
    """What a lookup shows of an account: its username, whether the caller shares with them
    already, and whether a document of this region can be shared with them (and if not, why)."""
    home = str(row.get("home_region") or "")
    elsewhere = bool(region and home and home != region)
    return {
        "username": str(row["username"]),
        "known": known,
        "shareable": not elsewhere,
        "note": f"In another DocStore region ({home}): send a public link instead." if elsewhere else None,
    }


def usable(row: Mapping[str, Any] | None, caller_id: str) -> bool:
    """An account a lookup may name: one that exists, is not the caller, and is active."""
    return (
        row is not None
        and row.get("_id") != caller_id
        and bool(row.get("username"))
        and row.get("status", "active") == "active"
    )
