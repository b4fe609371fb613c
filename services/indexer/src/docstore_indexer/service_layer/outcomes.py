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


def index_batch(account_id: str, outcomes: Sequence[IndexResult]) -> DocumentsIndexed:
    """Several of one account's indexing outcomes as one `DocumentsIndexed`."""
    return DocumentsIndexed(
        account_id=account_id,
        outcomes=[
            IndexOutcome(document_id=o.document_id, version=o.version, characters=o.characters)
            if isinstance(o, DocumentIndexed)
            else IndexOutcome(document_id=o.document_id, version=o.version, reason=o.reason)
            for o in outcomes
        ],
    )


def preview_batch(account_id: str, outcomes: Sequence[PreviewResult]) -> DocumentPreviewsRecorded:
    """Several of one account's preview outcomes as one `DocumentPreviewsRecorded`."""
    return DocumentPreviewsRecorded(
        account_id=account_id,
        outcomes=[
            PreviewOutcome(document_id=o.document_id, version=o.version, small=o.small, large=o.large)
            if isinstance(o, DocumentPreviewRendered)
            else PreviewOutcome(document_id=o.document_id, version=o.version, reason=o.reason)
            for o in outcomes
        ],
    )


@dataclass
class Outcomes(Generic[E]):
    """Single outcome events, each with the `traceparent` it would have been sent with; at `emit`,
    per account (in order of first appearance), one goes as itself and several as `batch` makes them."""

    batch: Callable[[str, Sequence[E]], Event]
    items: list[tuple[E, str | None]] = field(default_factory=list)

    def add(self, event: E, traceparent: str | None = None) -> None:
        """One outcome; its trace is `traceparent`, by default the current span's."""
        self.items.append((event, traceparent or current_traceparent()))

    def emit(self, tx: Transaction[Any]) -> None:
        """Emit what was added, in `tx` (published if and only if it commits), then forget it."""
        by_account: dict[str, list[tuple[E, str | None]]] = {}
        for item in self.items:
            by_account.setdefault(item[0].account_id, []).append(item)
        for account_id, group in by_account.items():
            if len(group) == 1:  # the single event, in its version's trace
                event, traceparent = group[0]
                tx.emit(event, subject=getattr(event, "document_id", None), traceparent=traceparent)
            else:
                tx.emit(self.batch(account_id, [event for event, _ in group]), subject=account_id)
        self.items.clear()


def index_outcomes() -> Outcomes[IndexResult]:
    """A transaction's indexing outcomes: per account one `document.batch-indexed` when it has several."""
    return Outcomes(index_batch)


def preview_outcomes() -> Outcomes[PreviewResult]:
    """A transaction's preview outcomes: per account one `document.batch-previews` when it has several."""
    return Outcomes(preview_batch)
