"""The outbox consistency checks ask the right consumer about the right events (issue 32): every
(event, consumer) pair a producer's check asks about is one that consumer subscribes to, with a
processed-event record under the service's name. A check asking a service about an event it
never consumes would find it missing on every pass (and publish it again, three times)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from docstore_accounts.bootstrap import OUTBOX_CONSUMERS as ACCOUNTS_CHECKS
from docstore_indexer.bootstrap import OUTBOX_CONSUMERS as INDEXER_CHECKS
from docstore_links.bootstrap import OUTBOX_CONSUMERS as LINKS_CHECKS
from docstore_metadata.bootstrap import OUTBOX_CONSUMERS as METADATA_CHECKS
from docstore_metadata.consumers.handlers import register as metadata_register
from docstore_notify.consumers.handlers import register as notify_register
from docstore_quota.bootstrap import OUTBOX_CONSUMERS as QUOTA_CHECKS
from docstore_quota.consumers.handlers import register as quota_register


class Subscriptions:
    """An event runtime that only records what a service's `register` subscribes to."""

    def __init__(self) -> None:
        self.events: set[type[Any]] = set()

    def subscribe(self, event_class: type[Any], _handler: Any) -> None:
        self.events.add(event_class)

    def subscribe_batch(self, _handler: Any, *event_classes: type[Any]) -> None:
        self.events.update(event_classes)


def consumed_by(register: Any) -> set[type[Any]]:
    recorded = Subscriptions()
    handlers = [None] * (len(inspect.signature(register).parameters) - 1)  # what each handler is bound to
    register(recorded, *handlers)
    return recorded.events


CONSUMED = {
    "metadata": consumed_by(metadata_register),
    "quota": consumed_by(quota_register),
    "notify": consumed_by(notify_register),
}


@pytest.mark.parametrize(
    "producer, checks",
    [
        ("accounts", ACCOUNTS_CHECKS),
        ("metadata", METADATA_CHECKS),
        ("indexer", INDEXER_CHECKS),
        ("links", LINKS_CHECKS),
        ("quota", QUOTA_CHECKS),
    ],
)
def test_each_outbox_check_asks_only_consumers_of_the_event(
    producer: str, checks: dict[type[Any], tuple[str, ...]]
) -> None:
    wrong = [
        (event.__name__, consumer) for event, consumers in checks.items() for consumer in consumers
        if event not in CONSUMED[consumer]
    ]  # fmt: skip
    assert wrong == [], f"{producer}'s outbox check asks about events these consumers do not subscribe to"
