"""The audit trail covers every event type by construction (issue 33, finding 6): the audit
consumer subscribes to the explicit catalogue of `docstore_events.event_types`, and the catalogue
holds every `Event` subclass the `docstore_events` package defines, found by walking the package.
On main the consumer subscribed to what `EVENT_TYPES` held when it started: in metadata's process
that left out the gateway's `account.new-sign-in`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import docstore_events
from docstore_accounts.consumers.audit import AuditConsumer
from docstore_events.base import Event
from docstore_events.event_types import CATALOGUE


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
