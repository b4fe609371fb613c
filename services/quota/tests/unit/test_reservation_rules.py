"""Reservation rules: room after pending grants, liveness with a grace, idempotent repeats."""

from datetime import UTC, datetime, timedelta

from docstore_quota.domain.reservations import Held, Wanted, decide, decide_batch, is_live, room_after
from docstore_quota.domain.usage import Usage

GB = 1_000_000_000
CAPS = {"free": 5 * GB, "premium": 20 * GB}
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def usage(used: int = 0, *, flagged: bool = False, plan: str = "free") -> Usage:
    return Usage("a", plan, used, flagged)


def test_successive_grants_never_pass_the_room() -> None:
    """The bug: 3 GB, 3 GB and 4.999 GB were all granted out of 5 GB of room."""
    reserved, granted = 0, []
    for size in (3 * GB, 3 * GB, 4_999_000_000):
        decision = decide(usage(), CAPS, size, reserved, None)
        granted.append(decision.granted)
        reserved = decision.reserved_bytes
    assert granted == [True, False, False]
    assert reserved == 3 * GB


def test_room_is_the_ledger_room_minus_the_other_reservations() -> None:
    decision = decide(usage(1 * GB), CAPS, 1 * GB, 2 * GB, None)
    assert decision.granted and decision.store
    assert decision.room_bytes == 2 * GB  # 5 - 1 used - 2 reserved elsewhere; this upload not subtracted
    assert decision.reserved_bytes == 3 * GB


def test_exactly_the_room_fits_one_byte_more_does_not() -> None:
    assert decide(usage(1 * GB), CAPS, 4 * GB, 0, None).granted
    refused = decide(usage(1 * GB), CAPS, 4 * GB + 1, 0, None)
    assert not refused.granted and not refused.store and refused.reserved_bytes == 0


def test_an_account_over_quota_gets_nothing() -> None:
    decision = decide(usage(6 * GB, flagged=True), CAPS, 1, 0, None)
    assert not decision.granted and decision.room_bytes == 0


def test_the_plan_sets_the_room() -> None:
    assert decide(usage(plan="premium"), CAPS, 10 * GB, 0, None).granted
    assert not decide(usage(plan="free"), CAPS, 10 * GB, 0, None).granted


def test_a_repeat_of_a_held_grant_is_granted_again_without_counting_twice() -> None:
    # 4 GB held for this upload; the room left by the others is 5 GB, and usage grew meanwhile.
    decision = decide(usage(4 * GB), CAPS, 4 * GB, 0, Held(4 * GB))
    assert decision.granted and not decision.store
    assert decision.reserved_bytes == 4 * GB


def test_a_repeat_with_another_size_is_decided_again_and_a_refusal_keeps_the_old_grant() -> None:
    smaller = decide(usage(), CAPS, 1 * GB, 1 * GB, Held(2 * GB))
    assert smaller.granted and smaller.store and smaller.reserved_bytes == 2 * GB
    bigger = decide(usage(), CAPS, 5 * GB, 1 * GB, Held(2 * GB))
    assert not bigger.granted and not bigger.store and bigger.reserved_bytes == 3 * GB


def test_a_reservation_counts_until_its_grace_after_expiry() -> None:
    expires = NOW
    assert is_live(expires, NOW, GRACE)
    assert is_live(expires, NOW + GRACE - timedelta(seconds=1), GRACE)
    assert not is_live(expires, NOW + GRACE, GRACE)
    assert not is_live(expires, NOW + timedelta(hours=1), GRACE)


def test_room_after_never_goes_below_zero() -> None:
    assert room_after(5, 3) == 2
    assert room_after(5, 9) == 0


def test_a_batch_is_decided_in_order_and_never_passes_the_room_in_total() -> None:
    wanted = [Wanted("u1", 3 * GB, None), Wanted("u2", 3 * GB, None), Wanted("u3", 2 * GB, None)]
    decisions = decide_batch(usage(), CAPS, wanted, 0)
    assert [d.granted for d in decisions] == [True, False, True]
    assert decisions[-1].reserved_bytes == 5 * GB


def test_a_batch_repeat_of_held_grants_counts_them_once_and_a_refused_change_keeps_its_room() -> None:
    wanted = [Wanted("u1", 2 * GB, Held(2 * GB)), Wanted("u2", 9 * GB, Held(1 * GB)), Wanted("u3", 2 * GB, None)]
    decisions = decide_batch(usage(), CAPS, wanted, 0)
    assert [d.granted for d in decisions] == [True, False, True]
    assert decisions[-1].reserved_bytes == 5 * GB
