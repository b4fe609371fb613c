"""Events about full-text indexing. All are emitted by `indexer`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from docstore_events.base import Event


class DocumentIndexed(Event):
    """Emitted by `indexer` when a version's text is searchable."""

    type = "document.indexed"

    document_id: str
    version: int
    characters: int


class DocumentIndexFailed(Event):
    """Emitted by `indexer` when a version could not be indexed (timeout, crash, corrupt)."""

    type = "document.index-failed"

    document_id: str
    version: int
    reason: str


class IndexOutcome(BaseModel):
    """One version's outcome in `DocumentsIndexed`: searchable (`reason` None, `characters` of
    text), or not, and why (as `document.index-failed`'s `reason`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    document_id: str
    version: int
    characters: int = 0
    reason: str | None = None


class DocumentsIndexed(Event):
    """Emitted by `indexer` once per indexing batch and account whose batch held more than one
    of the account's versions: their outcomes, in order. One record for the batch instead of one
    `document.indexed` or `document.index-failed` each (issue 35); a single outcome still emits
    its own event. The worker's batch span carries it: each version's `indexer index document`
    span stays in its upload's trace, linked to that batch span."""

    type = "document.batch-indexed"

    outcomes: list[IndexOutcome]

    def each(self) -> list[DocumentIndexed | DocumentIndexFailed]:
        """The outcomes as the single events they stand for."""
        return [
            DocumentIndexFailed(
                account_id=self.account_id, document_id=o.document_id, version=o.version, reason=o.reason
            )
            if o.reason is not None
            else DocumentIndexed(
                account_id=self.account_id, document_id=o.document_id, version=o.version, characters=o.characters
            )
            for o in self.outcomes
        ]


IndexEvent = DocumentIndexed | DocumentIndexFailed | DocumentsIndexed
"""What `indexer` emits about indexing a version: one outcome, or a batch's for one account."""


def index_outcomes_in(event: IndexEvent) -> list[DocumentIndexed | DocumentIndexFailed]:
    """The single outcomes `event` carries (itself, when it is one)."""
    return event.each() if isinstance(event, DocumentsIndexed) else [event]
