"""Events about accounts. All are emitted by `metadata`, which owns accounts."""

from __future__ import annotations

from typing import Literal

from docstore_events.base import Event

Plan = Literal["free", "premium"]


class AccountCreated(Event):
    """Emitted by `metadata` in the account's home region when someone signs up.

    `quota` opens a usage record, `notify` learns where to send mail, `indexer` learns
    the plan, and replication writes a minimal replica into the other regions.
    Carries no password and no hash.
    """

    type = "account.created"

    username: str
    email: str
    plan: Plan
    home_region: str
    email_verified: bool = True
    """False for a sign-up whose address is not verified yet (`account.email-verified` follows);
    absent (so True) in events from before verification existed: those accounts count as verified."""


class AccountPlanChanged(Event):
    """Emitted by `metadata` when an account moves between Free and Premium.

    `quota` applies the new cap at once; `indexer` backfills or drops full text.
    """

    type = "account.plan-changed"

    old_plan: Plan
    new_plan: Plan


class AccountReplicated(Event):
    """Emitted by `metadata` in a non-home region once it holds an account's replica.

    The replica holds the id, the username and the home region, nothing else.
    """

    type = "account.replicated"

    username: str
    home_region: str
    replica_region: str
    version: int = 1
    """The home region's replica version this region now holds (1 at sign-up, +1 per change)."""
    status: str = "active"
    """`active`, `deleted` or `username_conflict`, as in the home region."""


class AccountDeleted(Event):
    """Emitted by `metadata` in the account's home region when its owner deletes it
    (`DELETE /account`). The account is marked deleted (its username stays reserved);
    replication marks the replicas in the other regions deleted too."""

    type = "account.deleted"

    username: str
    home_region: str


class AccountUsernameConflicted(Event):
    """Emitted by `metadata` in an account's home region when it learns (from a replica)
    that another region signed up the same username at about the same moment and that
    the other sign-up won (the lower account id: ids start with their creation time).

    The losing account can no longer log in under that name; logins answer 409 saying so.
    `notify` may mail the owner.
    """

    type = "account.username-conflicted"

    username: str
    home_region: str
    winner_account_id: str
    winner_region: str
