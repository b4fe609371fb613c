"""The adaptive fetch wait: short while records come, long after an idle spell."""

from __future__ import annotations

from docstore_messaging.fetch_wait import AdaptiveFetchWait, FetchWaitPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_short_wait_while_records_come_long_after_an_idle_spell_short_again_on_a_record() -> None:
    clock = Clock()
    wait = AdaptiveFetchWait(FetchWaitPolicy(busy_ms=50, idle_ms=2000, idle_after_s=5.0), clock=clock)
    assert wait.current_ms == 50  # from start-up: catching up is latency-sensitive
    clock.now += 1.0
    assert wait.observe(got_records=True) == 50
    clock.now += 4.9
    assert wait.observe(got_records=False) == 50  # empty fetches, but not idle for long yet
    clock.now += 0.2
    assert wait.observe(got_records=False) == 2000
    clock.now += 60.0
    assert wait.observe(got_records=False) == 2000
    assert wait.observe(got_records=True) == 50  # the very next fetch is short again
    clock.now += 1.0
    assert wait.observe(got_records=False) == 50


def test_policy_defaults_keep_the_busy_wait_short() -> None:
    policy = FetchWaitPolicy()
    assert policy.wait_ms(idle_for=0.0) == policy.busy_ms < policy.idle_ms == policy.wait_ms(idle_for=3600.0)
