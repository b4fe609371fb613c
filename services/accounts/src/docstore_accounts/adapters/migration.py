"""Copying the account collections out of metadata's database into this service's (issue 36).

Each collection is copied document by document, replaced by `_id` (a rerun writes the same
documents again), and what the target holds that the source no longer does is deleted, so a rerun
after more sign-ups, changes or deletions at the source leaves an exact copy. The source is only
read. The secondary indexes are created on the target from the source's specs (unique usernames,
the tokens' TTL...), by name, so a rerun finds them in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_kit.collection_copy import copy_collection, copy_indexes

ACCOUNT_COLLECTIONS = (
    "accounts",
    "replicas",
    "usernames",
    "replication_outbox",
    "account_tokens",
    "account_counters",
    "verified_emails",
    "account_notices",
    "app_passwords",
)
"""Identity's collections, named as metadata named them (tests/static/test_account_collections.py)."""

AUDIT_COLLECTIONS = ("audit_log", "audit_chains")
"""The audit trail's, which moved with identity (README "Audit trail"). Its consumer is a new group
here (`accounts-audit`): it reads the topics once from their start, and every event the copied log
already holds is recognised by its id and skipped."""


async def copy_account_collections(
    source: AsyncDatabase[Any],
    target: AsyncDatabase[Any],
    names: Iterable[str] = ACCOUNT_COLLECTIONS + AUDIT_COLLECTIONS,
) -> dict[str, dict[str, int]]:
    """Every account collection of `source` copied into `target` (idempotent): per collection,
    documents copied and removed, and indexes made."""
    done = {}
    for name in names:
        counts = await copy_collection(source, target, name)
        counts["indexes"] = await copy_indexes(source, target, name)
        done[name] = counts
    return done
