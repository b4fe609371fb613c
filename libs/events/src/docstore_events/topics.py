"""Every topic the system uses, for platforms and tests that must create them up front."""

from __future__ import annotations

from docstore_events.event_types import CATALOGUE

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic that failed messages of `topic` go to."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def all_topics(prefix: str = "") -> list[str]:
    """Every event topic and its dead-letter topic, sorted."""
    topics = [event.topic(prefix) for event in CATALOGUE]
    return sorted(topics + [dead_letter_topic(t) for t in topics])
