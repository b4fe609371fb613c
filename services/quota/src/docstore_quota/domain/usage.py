"""Quota rules: caps per plan, what counts toward usage, and when an account crosses its
cap or a warning level. Pure functions, no I/O.

What counts (`CountingRule`): by default every byte the account has in S3 counts, the
trash and old versions included. With `count_trash=False` a trashed document counts
nothing until it is restored; with `count_old_versions=False` a document counts only
its current version's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

DEFAULT_PLAN = "free"
WARNING_PERCENTS = (80, 95)


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
    warned: frozenset[int] = frozenset()
    """Warning levels (percent) already announced and not yet re-armed."""
    stored_bytes: int = 0
    """Every byte in S3, whatever the counting rule (what reconciliation compares)."""
    documents: int = 0

    def cap(self, caps: dict[str, int]) -> int:
        return caps.get(self.plan, caps[DEFAULT_PLAN])

    def upgrade(self, caps: dict[str, int]) -> tuple[str, int] | None:
        """The plan to suggest when this account runs out of room: the one with the smallest cap
        above this plan's, and that cap; None on the largest plan (no upgrade would help)."""
        mine = self.cap(caps)
        larger = sorted((cap, plan) for plan, cap in caps.items() if cap > mine)
        return (larger[0][1], larger[0][0]) if larger else None

    def room(self, caps: dict[str, int]) -> int:
        """Bytes that may still be granted; zero while flagged over quota."""
        if self.over_quota:
            return 0
        return max(0, self.cap(caps) - self.used_bytes)

    def percent(self, caps: dict[str, int]) -> float:
        cap = self.cap(caps)
        return round(100.0 * self.used_bytes / cap, 2) if cap > 0 else 100.0


def crossing(usage: Usage, caps: dict[str, int]) -> Crossing:
    """Whether `usage` (already updated) has just gone over its cap or back under it."""
    over = usage.used_bytes > usage.cap(caps)
    if over and not usage.over_quota:
        return Crossing.EXCEEDED
    if not over and usage.over_quota:
        return Crossing.RESTORED
    return Crossing.NONE


def warning_levels(
    used_bytes: int, cap_bytes: int, warned: frozenset[int], levels: tuple[int, ...] = WARNING_PERCENTS
) -> tuple[frozenset[int], int | None]:
    """The levels now reached (the new `warned`) and the level to announce, if any.

    A level is announced once when usage goes up past it and re-armed when usage drops
    below it again. Jumping past several levels at once announces only the highest; going
    past the cap announces none (`quota.exceeded` says more).
    """
    reached = frozenset(p for p in levels if used_bytes * 100 >= p * cap_bytes)
    fresh = reached - warned
    announce = max(fresh) if fresh and used_bytes <= cap_bytes else None
    return reached, announce


@dataclass(frozen=True)
class CountingRule:
    count_trash: bool = True
    count_old_versions: bool = True


@dataclass(frozen=True)
class DocumentState:
    """One document as quota knows it, built from events in any order.

    `bytes` is a sum (uploads add, deletions subtract), so it nets out whatever the order;
    the current version is the highest version number seen; the trash flag is the latest
    `file.trashed`/`file.restored` by event time.
    """

    bytes: int = 0
    current_version: int = 0
    current_bytes: int = 0
    trashed: bool = False
    trash_changed_at: datetime | None = None

    def live(self) -> bool:
        """Whether the document still has bytes in S3 (counts as a document in the totals)."""
        return self.bytes > 0

    def counted(self, rule: CountingRule) -> int:
        """Bytes of this document that count toward the account's quota under `rule`."""
        if self.bytes <= 0 or (self.trashed and not rule.count_trash):
            return 0
        if rule.count_old_versions:
            return self.bytes
        return max(0, min(self.bytes, self.current_bytes))

    def add(self, size: int) -> DocumentState:
        return replace(self, bytes=self.bytes + size)

    def remove(self, size: int) -> DocumentState:
        return replace(self, bytes=self.bytes - size)

    def version(self, number: int, size: int) -> DocumentState:
        if number >= self.current_version:
            return replace(self, current_version=number, current_bytes=size)
        return self

    def trash(self, trashed: bool, at: datetime) -> DocumentState:
        if self.trash_changed_at is not None and at < self.trash_changed_at:
            return self  # an older trash/restore arriving late changes nothing
        return replace(self, trashed=trashed, trash_changed_at=at)


@dataclass(frozen=True)
class Delta:
    """How one document change moves its account's counters."""

    used: int
    stored: int
    documents: int


def delta(before: DocumentState, after: DocumentState, rule: CountingRule) -> Delta:
    return Delta(
        used=after.counted(rule) - before.counted(rule),
        stored=after.bytes - before.bytes,
        documents=int(after.live()) - int(before.live()),
    )


def newer(at: datetime, than: datetime | None) -> bool:
    """Last-writer-wins by event time for registers set by events on different topics."""
    return than is None or at >= than


DocumentChange = Callable[[DocumentState], DocumentState]


def apply_changes(
    states: Mapping[str, DocumentState],
    changes: Iterable[tuple[str, str, DocumentChange]],
    rule: CountingRule,
) -> tuple[dict[str, tuple[str, DocumentState]], dict[str, Delta]]:
    """Apply `changes` (account id, document id, change), in order, to the documents' `states`
    (a document not in `states` starts empty). Returns each changed document's account and new
    state, and how each account's counters move in total."""
    current = dict(states)
    changed: dict[str, tuple[str, DocumentState]] = {}
    moves: dict[str, Delta] = {}
    for account_id, document_id, change in changes:
        before = current.get(document_id, DocumentState())
        after = change(before)
        current[document_id] = after
        changed[document_id] = (account_id, after)
        moved = delta(before, after, rule)
        total = moves.get(account_id, Delta(0, 0, 0))
        moves[account_id] = Delta(
            total.used + moved.used, total.stored + moved.stored, total.documents + moved.documents
        )
    return changed, moves
