"""Events about storage quota. All are emitted by `quota`, which owns usage."""

from __future__ import annotations

from docstore_events.base import Event


class QuotaExceeded(Event):
    """Emitted by `quota` when an account's usage goes past its plan's cap.

    Emitted once per crossing; `notify` mails the owner and `upload` refuses grants.
    """

    type = "quota.exceeded"

    used_bytes: int
    cap_bytes: int
    plan: str


class QuotaRestored(Event):
    """Emitted by `quota` when an over-quota account is back under its cap."""

    type = "quota.restored"

    used_bytes: int
    cap_bytes: int
    plan: str
