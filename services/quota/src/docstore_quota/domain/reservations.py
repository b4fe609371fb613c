"""Reservations: room held for upload grants that are not completed yet. Pure rules, no I/O.

`upload` reserves the declared size of a file before it signs the form; the bytes count
against the account's room until the upload completes (they become usage in the same
transaction), expires, or is released. A reservation stops counting on its own
`grace` after its grant expired, so a lost `upload.expired` never holds room forever,
while an upload finishing a little after its form expired is still covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from docstore_kit import errors
from docstore_quota.domain.usage import Usage


def dead_before(now: datetime, grace: timedelta) -> datetime:
    """Reservations whose grant expired at or before this instant no longer count."""
    return now - grace


def is_live(expires_at: datetime, now: datetime, grace: timedelta) -> bool:
    """Whether a reservation whose grant expires at `expires_at` still holds room at `now`."""
    return expires_at > dead_before(now, grace)


def room_after(room_bytes: int, reserved_bytes: int) -> int:
    """The room left once the live reservations are set aside (never below zero)."""
    return max(0, room_bytes - reserved_bytes)


@dataclass(frozen=True)
class Held:
    """A live reservation already stored for the upload id being reserved again."""

    size: int


@dataclass(frozen=True)
class Decision:
    granted: bool
    room_bytes: int
    """The account's room minus its other live reservations (this upload's excluded)."""
    reserved_bytes: int
    """The account's live reservations once the decision is applied (this one included if granted)."""
    store: bool
    """Whether the reservation must be written (a new or changed grant)."""


def decide(usage: Usage, caps: dict[str, int], size: int, others_bytes: int, held: Held | None) -> Decision:
    """Whether `size` more bytes may be reserved for an upload.

    `others_bytes` is the sum of the account's other live reservations. A repeat of a grant
    still held for the same size is granted again without being counted twice (the room was
    set aside when it was first granted). Otherwise the size must fit in the room left by the
    ledger and the other reservations, and an account flagged over quota gets nothing.
    """
    room = room_after(usage.room(caps), others_bytes)
    if held is not None and held.size == size:
        return Decision(granted=True, room_bytes=room, reserved_bytes=others_bytes + size, store=False)
    if usage.over_quota or size <= 0 or size > room:
        kept = others_bytes + (held.size if held else 0)  # a refused change leaves the old grant as it was
        return Decision(granted=False, room_bytes=room, reserved_bytes=kept, store=False)
    return Decision(granted=True, room_bytes=room, reserved_bytes=others_bytes + size, store=True)


@dataclass(frozen=True)
class Reservation:
    """Room held for one upload grant (its id is the upload id, unique across accounts)."""

    upload_id: str
    account_id: str
    size: int
    expires_at: datetime


class UploadIdTaken(errors.Conflict):
    """The upload id is reserved for another account."""

    problem = "upload-id-taken"
    title = "Upload id taken"

    def detail(self) -> str:
        # The message is the upload id; the answer does not echo it.
        return "This upload belongs to another account."


class GrantExpired(errors.Invalid):
    """A reservation asked for a grant that no longer holds room (expired beyond the grace)."""

    def detail(self) -> str:
        return "This upload's grant has already expired, so no room is held for it. Ask for a new grant."


class DuplicateUploadIds(errors.Invalid):
    """A batch names the same upload id twice."""

    def detail(self) -> str:
        return "The same upload appears twice in one batch. Send each upload once."


def held_by(existing: Reservation | None, account_id: str, cutoff: datetime) -> Held | None:
    """What `account_id` already holds under the upload id `existing` is stored with.

    Raises `UploadIdTaken` when another account holds it; a reservation dead before `cutoff`
    holds nothing (a repeat is decided afresh)."""
    if existing is None:
        return None
    if existing.account_id != account_id:
        raise UploadIdTaken(existing.upload_id)
    return Held(existing.size) if existing.expires_at > cutoff else None


MAX_BATCH = 100
"""Most reservations one batch call may ask for (upload caps its batch grants at the same)."""


@dataclass(frozen=True)
class Wanted:
    """One item of a batch: `size` bytes for `upload_id`, and what the account already holds there."""

    upload_id: str
    size: int
    held: Held | None


def decide_batch(usage: Usage, caps: dict[str, int], wanted: list[Wanted], others_bytes: int) -> list[Decision]:
    """`decide` for many uploads of one account at once, in order, as if granted one after
    another: each granted item counts against the room of the items after it, so the batch
    never grants more than the room in total. `others_bytes` are the account's live
    reservations outside the batch."""
    decisions = []
    reserved = others_bytes
    for item in wanted:
        decision = decide(usage, caps, item.size, reserved, item.held)
        if decision.granted:
            reserved += item.size
        elif item.held is not None:
            reserved += item.held.size  # a refused change leaves the old grant holding its room
        decisions.append(decision)
    return decisions
