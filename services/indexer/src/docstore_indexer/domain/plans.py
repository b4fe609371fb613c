"""Who gets full text: the plan rule and the order of plan facts. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from docstore_kit.errors import Forbidden

PREMIUM = "premium"
FREE = "free"
DELETED = "deleted"
"""The plan an `account.deleted` leaves: no full text, and nothing indexed for the account again."""
UPGRADE_URL = "/v1/account/plan"
"""Where a plan is changed (the gateway's route), as every plan refusal names it."""


@dataclass(frozen=True)
class PlanRecord:
    account_id: str
    plan: str
    as_of: datetime


def has_full_text(plan: str | None) -> bool:
    """Full-text indexing and search are Premium features; an unknown account is Free."""
    return plan == PREMIUM


def supersedes(stored: PlanRecord | None, as_of: datetime) -> bool:
    """Whether a plan fact from `as_of` replaces the stored one.

    `account.created` and `account.plan-changed` travel on different topics, so they can
    arrive in either order; the later fact (by event time) wins.
    """
    return stored is None or as_of >= stored.as_of


def describe(plan: str | None) -> str:
    return (plan or FREE).capitalize()


class FullTextNeedsPremium(Forbidden):
    """Full-text search and its status are for Premium accounts (403). Beside its `detail` the
    answer carries the plan members of the other plan refusals (upload's `no-room` and
    `over-quota`): the account's `plan`, the `upgrade_plan` that lifts the refusal and the
    `upgrade_url` where it is made, so clients show the same "Upgrade to …" link."""

    problem = "premium-required"
    title = "Premium plan required"

    def __init__(self, plan: str | None) -> None:
        super().__init__(f"full-text search needs the Premium plan (this account is on {describe(plan)})")
        self.plan = plan or FREE

    def extra(self) -> dict[str, object]:
        return {"plan": self.plan, "upgrade_plan": PREMIUM, "upgrade_url": UPGRADE_URL}
