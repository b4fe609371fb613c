"""Settling an account after its usage moved: flag or unflag it, and say so. Pure, no I/O.

Each change applied to the ledger ends here. Going past the cap flags the account and
announces `quota.exceeded`; coming back under it unflags it with `quota.restored`; each
warning level is announced once per upward crossing (see `usage.warning_levels`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docstore_events.base import Event
from docstore_events.notifications import QuotaWarningReached
from docstore_events.quota import QuotaExceeded, QuotaRestored
from docstore_quota.domain.usage import WARNING_PERCENTS, Crossing, Usage, crossing, warning_levels


@dataclass(frozen=True)
class Settlement:
    usage: Usage
    """The account with its flags (`over_quota`, `warned`) as they must now be stored."""
    flags_changed: bool
    """Whether the flags differ from the ones stored."""
    events: tuple[Event, ...]
    """What to announce: `quota.exceeded` or `quota.restored`, then `quota.warning-reached`."""


def settle(usage: Usage, caps: dict[str, int], warning_percents: tuple[int, ...] = WARNING_PERCENTS) -> Settlement:
    """The flags and the announcements of `usage` (already updated by a change)."""
    cap = usage.cap(caps)
    change = crossing(usage, caps)
    warned, announce = warning_levels(usage.used_bytes, cap, usage.warned, warning_percents)
    over = usage.over_quota if change is Crossing.NONE else change is Crossing.EXCEEDED
    account_id, used, plan = usage.account_id, usage.used_bytes, usage.plan
    events: list[Event] = []
    if change is Crossing.EXCEEDED:
        events.append(QuotaExceeded(account_id=account_id, used_bytes=used, cap_bytes=cap, plan=plan))
    elif change is Crossing.RESTORED:
        events.append(QuotaRestored(account_id=account_id, used_bytes=used, cap_bytes=cap, plan=plan))
    if announce is not None:
        events.append(
            QuotaWarningReached(percent=announce, account_id=account_id, used_bytes=used, cap_bytes=cap, plan=plan)
        )
    return Settlement(
        usage=replace(usage, over_quota=over, warned=warned),
        flags_changed=warned != usage.warned or over != usage.over_quota,
        events=tuple(events),
    )
