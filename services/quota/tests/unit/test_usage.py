from docstore_quota.domain.usage import Crossing, Usage, crossing

CAPS = {"free": 100, "premium": 1000}


def usage(used: int, *, plan: str = "free", flagged: bool = False) -> Usage:
    return Usage("a", plan, used, flagged)


def test_going_over_the_cap_is_a_crossing_once() -> None:
    assert crossing(usage(101), CAPS) is Crossing.EXCEEDED
    assert crossing(usage(150, flagged=True), CAPS) is Crossing.NONE


def test_exactly_at_the_cap_is_not_over() -> None:
    assert crossing(usage(100), CAPS) is Crossing.NONE


def test_freeing_space_restores() -> None:
    assert crossing(usage(99, flagged=True), CAPS) is Crossing.RESTORED
    assert crossing(usage(99), CAPS) is Crossing.NONE


def test_plan_sets_the_cap_and_unknown_plans_get_free() -> None:
    assert crossing(usage(500, plan="premium"), CAPS) is Crossing.NONE
    assert usage(0, plan="enterprise?").cap(CAPS) == 100


def test_room_is_zero_while_flagged_and_never_negative() -> None:
    assert usage(40).room(CAPS) == 60
    assert usage(40, flagged=True).room(CAPS) == 0
    assert usage(140).room(CAPS) == 0


def test_the_upgrade_offered_is_the_next_plan_up_and_none_on_the_largest() -> None:
    assert usage(100).upgrade(CAPS) == ("premium", 1000)
    assert usage(1000, plan="premium").upgrade(CAPS) is None
    assert usage(0).upgrade(CAPS | {"business": 5000}) == ("premium", 1000)  # the smallest step up
