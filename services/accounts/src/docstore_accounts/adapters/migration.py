"""The account collections that move out of metadata's database into this service's (issue 36).
`python -m docstore_accounts.migrate` copies them with `docstore_kit.collection_copy`: a rerun leaves
an exact copy, indexes included, and the source is only read."""

from __future__ import annotations

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
