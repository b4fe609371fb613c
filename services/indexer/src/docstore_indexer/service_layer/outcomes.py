"""A transaction's outcomes (indexing or previews), emitted together when its work is done.

Per account, a single outcome goes out as its own event in its version's trace, as before
batches; several go out as one batch event (`DocumentsIndexed`, `DocumentPreviewsRecorded`) in
the trace of the span current at `emit`, the worker's batch span: one broker record for the
batch instead of one per version (issue 35).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from docstore_events import (
    DocumentIndexed,
    DocumentIndexFailed,
    DocumentPreviewFailed,
    DocumentPreviewRendered,
    DocumentPreviewsRecorded,
    DocumentsIndexed,
    Event,
)
from docstore_events.indexing import IndexOutcome
from docstore_events.previews import PreviewOutcome
from docstore_messaging.tracing import current_traceparent
from docstore_messaging.unit_of_work import Transaction

E = TypeVar("E", bound=Event)
IndexResult = DocumentIndexed | DocumentIndexFailed
PreviewResult = DocumentPreviewRendered | DocumentPreviewFailed


def by_account(outcomes: Sequence[E]) -> dict[str, list[E]]:
    """`outcomes` per account, accounts in order of first appearance, each's in order."""
    grouped: dict[str, list[E]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.account_id, []).append(outcome)
    return grouped


def index_events(outcomes: Sequence[IndexResult]) -> list[Event]:
    """Per account, its one outcome as itself, or its several as one `DocumentsIndexed`."""
    return [
        group[0]
        if len(group) == 1
        else DocumentsIndexed(
            account_id=account_id,
            outcomes=[
                IndexOutcome(document_id=o.document_id, version=o.version, characters=o.characters)
                if isinstance(o, DocumentIndexed)
                else IndexOutcome(document_id=o.document_id, version=o.version, reason=o.reason)
                for o in group
            ],
        )
        for account_id, group in by_account(outcomes).items()
    ]


def preview_events(outcomes: Sequence[PreviewResult]) -> list[Event]:
    """Per account, its one outcome as itself, or its several as one `DocumentPreviewsRecorded`."""
    return [
        group[0]
        if len(group) == 1
        else DocumentPreviewsRecorded(
            account_id=account_id,
            outcomes=[
                PreviewOutcome(document_id=o.document_id, version=o.version, small=o.small, large=o.large)
                if isinstance(o, DocumentPreviewRendered)
                else PreviewOutcome(document_id=o.document_id, version=o.version, reason=o.reason)
                for o in group
            ],
        )
        for account_id, group in by_account(outcomes).items()
    ]


@dataclass
class Outcomes(Generic[E]):
    """Single outcome events, each with the `traceparent` it would have been sent with, grouped
    per account by `grouped` when emitted."""

    grouped: Callable[[Sequence[E]], Sequence[Event]]
    items: list[tuple[E, str | None]] = field(default_factory=list)

    def add(self, event: E, traceparent: str | None = None) -> None:
        """One outcome; its trace is `traceparent`, by default the current span's."""
        self.items.append((event, traceparent or current_traceparent()))

    def emit(self, tx: Transaction[Any]) -> None:
        """Emit what was added, in `tx` (published if and only if it commits), then forget it."""
        traces = {id(event): traceparent for event, traceparent in self.items}
        for event in self.grouped([event for event, _ in self.items]):
            if id(event) in traces:  # alone for its account: the single event, in its version's trace
                tx.emit(event, subject=getattr(event, "document_id", None), traceparent=traces[id(event)])
            else:
                tx.emit(event, subject=event.account_id)
        self.items.clear()


def index_outcomes() -> Outcomes[IndexResult]:
    """A transaction's indexing outcomes: per account one `document.batch-indexed` when it has several."""
    return Outcomes(index_events)


def preview_outcomes() -> Outcomes[PreviewResult]:
    """A transaction's preview outcomes: per account one `document.batch-previews` when it has several."""
    return Outcomes(preview_events)
