"""The audit trail covers every event type by construction (issue 33, finding 6): the audit
consumer subscribes to the explicit catalogue of `docstore_events.event_types`, and the catalogue
holds every `Event` subclass the `docstore_events` package defines, found by walking the package.
On main the consumer subscribed to what `EVENT_TYPES` held when it started: in metadata's process
that left out the gateway's `account.new-sign-in`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import SimpleNamespace

import docstore_events
from docstore_accounts.consumers.audit import AuditConsumer
from docstore_events.base import Event
from docstore_events.event_types import CATALOGUE
from docstore_messaging.fetch_wait import FetchWaitPolicy


def defined_event_classes() -> set[type[Event]]:
    """Every class with its own `type` defined in any module of the package (walked, all imported)."""
    found: set[type[Event]] = set()
    for info in pkgutil.walk_packages(docstore_events.__path__, prefix="docstore_events."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Event) and value.__module__ == module.__name__ and "type" in value.__dict__:
                found.add(value)
    return found


def test_the_catalogue_is_every_event_class_of_the_package_each_once() -> None:
    assert len(CATALOGUE) == len(set(CATALOGUE)) == len({cls.type for cls in CATALOGUE})
    assert set(CATALOGUE) == defined_event_classes()


def test_the_audit_consumer_subscribes_to_the_whole_catalogue() -> None:
    subscribed = set(AuditConsumer.subscribed())

    assert subscribed == set(CATALOGUE)
    assert "account.new-sign-in" in {cls.type for cls in subscribed}


def test_the_audit_consumer_waits_longer_than_the_services_while_events_flow() -> None:
    """It reads every topic, and on Tansu a waiting fetch re-reads each partition it asks for:
    its fetches wait `audit_fetch_max_wait_ms` while events flow, never less than the runtime's."""
    events = SimpleNamespace(fetch_wait=FetchWaitPolicy(busy_ms=20, idle_ms=2000, idle_after_s=5.0))
    audit = AuditConsumer(events, trail=None, busy_fetch_wait_ms=240)  # type: ignore[arg-type]
    assert audit.fetch_wait == FetchWaitPolicy(busy_ms=240, idle_ms=2000, idle_after_s=5.0)
    slow = SimpleNamespace(fetch_wait=FetchWaitPolicy(busy_ms=300, idle_ms=300))
    assert AuditConsumer(slow, trail=None, busy_fetch_wait_ms=240).fetch_wait.busy_ms == 300  # type: ignore[arg-type]
