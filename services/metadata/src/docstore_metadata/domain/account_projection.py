"""What metadata keeps of an account (issue 36): a projection fed by `account.*` events, as quota
and the indexer keep theirs. Identity itself (credentials, tokens, replicas) is not metadata's.

A row holds `username`, `plan`, `home_region`, `email_verified` and `status` (`active`,
`deleted`, `username_conflict`): what sharing by username, the verified-address rule of shares and
links, the version caps and full-text state of a plan, and the purge of a deleted account need.
Each event sets the fields it speaks of and nothing else, so applying one twice changes nothing;
an account's events share a key, so they arrive in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from docstore_events import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    AccountReplicated,
    AccountUsernameConflicted,
)
from docstore_events.base import Event
from docstore_events.credentials import AccountEmailVerified

PROJECTED = (
    AccountCreated,
    AccountPlanChanged,
    AccountDeleted,
    AccountEmailVerified,
    AccountUsernameConflicted,
    AccountReplicated,
)
"""The events the projection is made of. `account.replicated` is another region's account this
region now knows (username, home region, status): sharing tells the truth about it (issue 37, D4)
instead of "nobody is called that"."""


def changes_for(event: Event, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields to set, fields to set only when the row is new) for one of `PROJECTED`, which
    happened `at` (its envelope's time)."""
    if isinstance(event, AccountCreated):
        return {}, {
            "username": event.username,
            "plan": event.plan,
            "home_region": event.home_region,
            "email_verified": event.email_verified,
            "status": "active",
        }
    if isinstance(event, AccountPlanChanged):
        return {"plan": event.new_plan}, {}
    if isinstance(event, AccountDeleted):
        return {"status": "deleted", "deleted_at": at}, {"username": event.username}
    if isinstance(event, AccountEmailVerified):
        return {"email_verified": True}, {}
    if isinstance(event, AccountReplicated):
        # Each replica event carries the whole minimal state; a replica has no plan or address here.
        return {"username": event.username, "home_region": event.home_region, "status": event.status}, {}
    if isinstance(event, AccountUsernameConflicted):
        return {"status": "username_conflict"}, {"username": event.username}
    raise TypeError(f"not an event of the account projection: {type(event).__name__}")
