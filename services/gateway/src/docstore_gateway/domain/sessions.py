"""Login sessions: who a live session belongs to, and what a login hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Caller:
    """Who a live session belongs to."""

    account_id: str
    role: str = "user"


@dataclass(frozen=True)
class Session:
    """A session as stored: its bearer token (the store keeps only a digest of it), its
    account and role, and when it stops being live."""

    token: str
    account_id: str
    role: str
    created_at: datetime
    expires_at: datetime

    @property
    def caller(self) -> Caller:
        return Caller(self.account_id, self.role)

    def live_at(self, now: datetime) -> bool:
        return now < self.expires_at
