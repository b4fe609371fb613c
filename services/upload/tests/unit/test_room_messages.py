"""The refusals of a file that does not fit, as people read them: sizes in KB/MB/GB, the plan
by name, an upgrade hint only where the plan is the limit; the numbers beside them for programs."""

from __future__ import annotations

from docstore_upload.domain.errors import NoRoom, OverQuota, Room, no_room_message, over_quota_message

GB = 1_000_000_000
FREE = Room("free", 5 * GB, "premium", 20 * GB)
PREMIUM = Room("premium", 20 * GB)


def test_a_free_account_is_offered_the_upgrade_that_makes_room() -> None:
    assert no_room_message(6_442_450_944, 4_999_997_022, FREE) == (
        "This file is 6.4 GB but only 5.0 GB is left on your Free plan. Upgrade to Premium for 20 GB."
    )


def test_a_full_premium_account_gets_no_upgrade_hint_but_the_way_to_make_room() -> None:
    message = no_room_message(6_442_450_944, 1_200_000_000, PREMIUM)
    assert message == (
        "This file is 6.4 GB but only 1.2 GB is left on your Premium plan. "
        "Delete files you no longer need and empty the trash to make room."
    )
    assert "Upgrade" not in message


def test_no_upgrade_is_offered_when_even_the_bigger_plan_would_not_hold_the_file() -> None:
    # 4 GB used of 5: Premium leaves 16 GB, less than this 17 GB file.
    message = no_room_message(17 * GB, 1 * GB, FREE)
    assert "Upgrade" not in message and message.endswith("to make room.")
    assert no_room_message(16 * GB, 1 * GB, FREE).endswith("Upgrade to Premium for 20 GB.")


def test_no_room_at_all_and_small_sizes_read_naturally() -> None:
    assert no_room_message(2_500, 0, FREE) == (
        "This file is 2.5 KB but no space is left on your Free plan. Upgrade to Premium for 20 GB."
    )
    assert no_room_message(101, 100) == (
        "This file is 101 bytes but only 100 bytes is left. Delete files you no longer need and empty the trash "
        "to make room."
    )


def test_the_machine_fields_stay_beside_the_words() -> None:
    assert NoRoom(6_442_450_944, 4_999_997_022, FREE).extra() == {
        "needed_bytes": 6_442_450_944,
        "available_bytes": 4_999_997_022,
        "plan": "free",
        "cap_bytes": 5 * GB,
        "upgrade_plan": "premium",
        "upgrade_cap_bytes": 20 * GB,
        "upgrade_url": "/v1/account/plan",
    }
    premium = NoRoom(6_442_450_944, 0, PREMIUM).extra()
    assert premium["plan"] == "premium" and premium["upgrade_plan"] is None and premium["upgrade_url"] is None


def test_an_account_over_its_cap_is_told_uploads_are_paused_and_how_to_resume() -> None:
    assert over_quota_message(FREE) == (
        "Your files take more than the 5 GB of your Free plan, so uploads are paused. "
        "Delete files you no longer need and empty the trash to make room. Or upgrade to Premium for 20 GB."
    )
    assert "upgrade" not in over_quota_message(PREMIUM).lower()
    assert OverQuota(FREE).extra()["upgrade_url"] == "/v1/account/plan"
    assert OverQuota(PREMIUM).extra()["upgrade_plan"] is None
