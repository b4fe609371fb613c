"""Quota rules: caps per plan and when an account crosses its cap. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

DEFAULT_PLAN = "free"


class Crossing(Enum):
    NONE = "none"
    EXCEEDED = "exceeded"
    RESTORED = "restored"


@dataclass(frozen=True)
class Usage:
    account_id: str
    plan: str
    used_bytes: int
    over_quota: bool

    def cap(self, caps: dict[str, int]) -> int:
        return caps.get(self.plan, caps[DEFAULT_PLAN])

    def room(self, caps: dict[str, int]) -> int:
        """Bytes that may still be granted; zero while flagged over quota."""
        if self.over_quota:
            return 0
        return max(0, self.cap(caps) - self.used_bytes)


def crossing(usage: Usage, caps: dict[str, int]) -> Crossing:
    """Whether `usage` (already updated) has just gone over its cap or back under it."""
    over = usage.used_bytes > usage.cap(caps)
    if over and not usage.over_quota:
        return Crossing.EXCEEDED
    if not over and usage.over_quota:
        return Crossing.RESTORED
    return Crossing.NONE
