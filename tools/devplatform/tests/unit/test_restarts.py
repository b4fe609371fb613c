from docstore_devplatform.restarts import RestartPolicy


def test_a_child_that_keeps_dying_waits_twice_as_long_each_time_up_to_the_cap():
    policy = RestartPolicy(first_delay=1, max_delay=8, healthy_after=60, last_start=0)
    waits = []
    now = 1.0
    for _ in range(6):
        at = policy.exited(now)
        waits.append(at - now)
        assert not policy.due(at - 0.01) and policy.due(at)
        policy.started(at)
        now = at + 1  # dies a second after each restart
    assert waits == [1, 2, 4, 8, 8, 8]
    assert policy.restarts == 6


def test_the_backoff_is_forgotten_after_a_period_of_health():
    policy = RestartPolicy(first_delay=1, max_delay=30, healthy_after=60, last_start=0)
    now = 1.0
    for _ in range(4):
        now = policy.exited(now)
        policy.started(now)
    assert policy.exited(now + 2) - (now + 2) == 16  # died 2 s after its last restart: still failing
    policy.started(now + 18)
    assert policy.exited(now + 100) - (now + 100) == 1  # ran 82 s: healthy, starts over


def test_an_exit_already_scheduled_keeps_its_time():
    policy = RestartPolicy(first_delay=2, last_start=0)
    assert policy.exited(10.0) == 12.0
    assert policy.exited(11.0) == 12.0
