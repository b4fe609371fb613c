"""Events about full-text indexing. All are emitted by `indexer`."""

from __future__ import annotations

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
