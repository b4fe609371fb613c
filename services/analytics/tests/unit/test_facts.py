"""What the ledger keeps of an event: a batch of the indexer's outcomes is one fact per failure."""

from __future__ import annotations

from datetime import UTC, datetime

from docstore_analytics.consumers.handlers import facts
from docstore_events import DocumentPreviewsRecorded, DocumentsIndexed, Envelope
from docstore_events.indexing import IndexOutcome
from docstore_events.previews import PreviewOutcome

AT = datetime(2026, 11, 29, tzinfo=UTC)


def test_a_batch_of_outcomes_is_one_fact_per_failure_each_with_an_id_of_its_own() -> None:
    indexed = DocumentsIndexed(
        account_id="a",
        outcomes=[
            IndexOutcome(document_id="d1", version=1, characters=5),
            IndexOutcome(document_id="d2", version=1, reason="corrupt"),
            IndexOutcome(document_id="d2", version=2, reason="corrupt"),
        ],
    )
    found = facts(Envelope(id="e1", source="indexer", time=AT, data=indexed))
    assert [(f.event_id, f.kind, f.owner, f.subject, f.at) for f in found] == [
        ("e1/d2/1", "index-failed", "a", "d2", AT),
        ("e1/d2/2", "index-failed", "a", "d2", AT),
    ]
    previews = DocumentPreviewsRecorded(
        account_id="a", outcomes=[PreviewOutcome(document_id="d3", version=1, reason="unsupported type")]
    )
    [failed] = facts(Envelope(id="e2", source="indexer", time=AT, data=previews))
    assert (failed.event_id, failed.kind, failed.subject) == ("e2/d3/1", "preview-failed", "d3")
