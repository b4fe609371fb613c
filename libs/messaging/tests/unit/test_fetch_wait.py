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


async def test_each_group_consumer_s_fetch_routine_sleeps_up_to_a_second_not_aiokafka_s_200_ms() -> None:
    """An idle consumer's fetch routine wakes on every event that needs a new fetch; its own
    timer (aiokafka's `consumer_timeout_ms`) only adds idle wake-ups (issue 35)."""
    from faststream.kafka import KafkaBroker

    from docstore_events.accounts import AccountCreated
    from docstore_messaging.batches import BatchConsumer
    from docstore_messaging.consumer import subscribe
    from docstore_messaging.fetch_wait import FETCHER_TIMEOUT_MS

    async def handle(*_: object) -> None:
        return None

    batches = BatchConsumer(
        bootstrap_servers="127.0.0.1:9", handlers={AccountCreated: handle}, consumer="c", group_id="c", publish=handle
    )
    broker = KafkaBroker("127.0.0.1:9")
    subscribe(broker, {AccountCreated: handle}, consumer="c")
    (subscriber,) = broker.subscribers
    assert FETCHER_TIMEOUT_MS >= 1000
    assert batches.kafka._consumer_timeout == FETCHER_TIMEOUT_MS / 1000  # noqa: SLF001 - aiokafka keeps it there
    assert subscriber._connection_args["consumer_timeout_ms"] == FETCHER_TIMEOUT_MS  # noqa: SLF001
