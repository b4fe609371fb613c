"""Every topic the system uses, for platforms and tests that must create them up front."""

from __future__ import annotations

import importlib
import pkgutil

import docstore_events
from docstore_events.base import EVENT_TYPES

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic that failed messages of `topic` go to."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def register_all_events() -> None:
    """Import every module of the package, so every event type is in `EVENT_TYPES` (a module
    nobody imported yet would otherwise leave its topics uncreated)."""
    for info in pkgutil.iter_modules(docstore_events.__path__):
        importlib.import_module(f"{docstore_events.__name__}.{info.name}")


def all_topics(prefix: str = "") -> list[str]:
    """Every event topic and its dead-letter topic, sorted."""
    register_all_events()
    topics = [event.topic(prefix) for event in EVENT_TYPES.values()]
    return sorted(topics + [dead_letter_topic(t) for t in topics])
