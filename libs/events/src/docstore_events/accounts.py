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
