"""A transaction's outcomes: per account one event, the single one alone in its version's trace,
a batch event for several (issue 35: one broker record per batch and account)."""

from __future__ import annotations

from typing import Any

from docstore_events import (
    DocumentIndexed,
    DocumentIndexFailed,
    DocumentPreviewFailed,
    DocumentPreviewsRecorded,
    DocumentsIndexed,
)
from docstore_indexer.service_layer.outcomes import index_outcomes, preview_outcomes

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Tx:
    def __init__(self) -> None:
        self.emitted: list[tuple[Any, str | None, str | None]] = []

    def emit(self, event: Any, *, subject: str | None = None, traceparent: str | None = None) -> None:
        self.emitted.append((event, subject, traceparent))


def test_one_outcome_of_an_account_goes_alone_and_several_go_as_one_batch_in_order() -> None:
    outcomes = index_outcomes()
    outcomes.add(DocumentIndexed(account_id="a", document_id="d1", version=1, characters=3), TRACE)
    outcomes.add(DocumentIndexed(account_id="b", document_id="d2", version=2, characters=4))
    outcomes.add(DocumentIndexFailed(account_id="b", document_id="d3", version=1, reason="corrupt"))
    tx = Tx()
    outcomes.emit(tx)  # type: ignore[arg-type]
    (alone, alone_subject, alone_trace), (batch, batch_subject, _) = tx.emitted
    assert alone == DocumentIndexed(account_id="a", document_id="d1", version=1, characters=3)
    assert (alone_subject, alone_trace) == ("d1", TRACE)
    assert isinstance(batch, DocumentsIndexed) and batch_subject == "b"
    assert batch.each() == [
        DocumentIndexed(account_id="b", document_id="d2", version=2, characters=4),
        DocumentIndexFailed(account_id="b", document_id="d3", version=1, reason="corrupt"),
    ]
    assert outcomes.items == []  # emitted once


def test_a_batch_of_previews_stands_for_its_single_events() -> None:
    outcomes = preview_outcomes()
    failures = [
        DocumentPreviewFailed(account_id="a", document_id=f"d{n}", version=1, reason="unsupported type")
        for n in range(3)
    ]
    for failure in failures:
        outcomes.add(failure)
    tx = Tx()
    outcomes.emit(tx)  # type: ignore[arg-type]
    [(batch, subject, _)] = tx.emitted
    assert isinstance(batch, DocumentPreviewsRecorded) and subject == "a"
    assert batch.each() == failures
