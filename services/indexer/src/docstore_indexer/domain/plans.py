"""Who gets full text: the plan rule and the order of plan facts. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from docstore_kit.errors import Forbidden

PREMIUM = "premium"
FREE = "free"


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
    """Full-text search and its status are for Premium accounts (403)."""

    problem = "premium-required"
    title = "Premium plan required"

    def __init__(self, plan: str | None) -> None:
        super().__init__(f"full-text search needs the Premium plan (this account is on {describe(plan)})")
