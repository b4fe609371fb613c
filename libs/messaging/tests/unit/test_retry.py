from docstore_events.topics import all_topics, dead_letter_topic
from docstore_messaging.consumer import RetryPolicy


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.5, max_backoff=3.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_every_topic_has_its_dead_letter_topic() -> None:
    topics = all_topics("r1.")
    originals = [t for t in topics if not t.endswith(".dlq")]
    assert originals and all(t.startswith("r1.docstore.") for t in originals)
    assert sorted(dead_letter_topic(t) for t in originals) == sorted(set(topics) - set(originals))


def test_an_outage_is_never_given_up_on_and_a_failing_event_is_after_max_attempts() -> None:
    import pymongo.errors

    policy = RetryPolicy(max_attempts=3)
    down = pymongo.errors.AutoReconnect("localhost:27017: connection closed")
    wrong = ValueError("this event cannot be applied")
    assert [policy.gives_up(n, wrong) for n in (1, 2, 3)] == [False, False, True]
    assert not any(policy.gives_up(n, down) for n in (1, 3, 100, 10_000))
    assert policy.backoff(10_000) == policy.max_backoff  # no overflow however long the outage
