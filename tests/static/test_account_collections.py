"""Identity has one owner (issue 36): no module outside `services/accounts` touches the account
collections (the accounts themselves, replicas and usernames, the replication queue, mail tokens
and counters, verified addresses, notices, app passwords).

While the move out of `metadata` is under way, the metadata modules that still hold identity are
named below (`STILL_IN_METADATA`, the same list as services/accounts/README.md "What lives
where"); a module that starts touching these collections fails here, and so does a name left on
the list after its module moved (the list only shrinks). Other services keep what they need of an
account as a projection of their own, fed by `account.*` events, in collections of other names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docstore_accounts.adapters.migration import ACCOUNT_COLLECTIONS

pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[2]

_NAMES = "|".join(ACCOUNT_COLLECTIONS)
TOUCHES = re.compile(
    rf"""(?:\bdb|\bdatabase)\s*\[\s*["']({_NAMES})["']\s*\]"""  # db["accounts"], self.collection.database["..."]
    rf"""|get_collection\(\s*["']({_NAMES})["']"""  # db.get_collection("accounts")
    rf"""|\bdb\s*\.\s*({_NAMES})\b"""  # db.accounts
)

STILL_IN_METADATA: frozenset[str] = frozenset()
"""Identity code not moved to `accounts` yet (services/accounts/README.md): none since the move
(issue 36); the list may only stay empty."""


def production_modules() -> list[Path]:
    """Every module of the services, libraries, tools and clients, tests left out (they read the
    databases to check what a service stored)."""
    modules = []
    for top in ("services", "libs", "tools", "clients"):
        for path in (ROOT / top).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "tests" in relative.parts or ".venv" in relative.parts:
                continue
            modules.append(relative)
    return modules


def touching() -> set[str]:
    return {
        path.as_posix()
        for path in production_modules()
        if not path.as_posix().startswith("services/accounts/") and TOUCHES.search((ROOT / path).read_text())
    }


def test_the_check_sees_a_module_that_touches_an_account_collection() -> None:
    for line in ('db["accounts"].find_one({})', "self.collection.database['app_passwords']", "db.replicas"):
        assert TOUCHES.search(line), line
    assert not TOUCHES.search('tags=["accounts"]') and not TOUCHES.search('db["account_projection"]')


def test_no_module_outside_accounts_touches_the_account_collections() -> None:
    assert touching() <= STILL_IN_METADATA, (
        "only services/accounts owns the account collections: keep a projection of your own, fed by account.* events"
    )


def test_the_list_of_identity_left_in_metadata_only_shrinks() -> None:
    moved = STILL_IN_METADATA - touching()
    assert not moved, f"these no longer touch the account collections: take them off STILL_IN_METADATA: {moved}"
