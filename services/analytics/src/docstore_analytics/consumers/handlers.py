"""The event subscriber: each consumed event becomes one fact of the ledger (a batch of the
indexer's outcomes, one fact per failure it holds), in batches.

A batch is recorded by `Recorder.apply` in one transaction (see `docstore_messaging.batches`:
manual acknowledgement after the commit, a failing batch split down to the event that fails,
which goes to its dead-letter topic after the retries)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from docstore_analytics.domain.rollups import Fact, document_type
from docstore_analytics.service_layer.rollups import Recorder
from docstore_events import Envelope
from docstore_events.accounts import AccountCreated, AccountDeleted, AccountPlanChanged
from docstore_events.activity import FileDownloadUrlIssued
from docstore_events.files import (
    FileDeleted,
    FileDetailsChanged,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
    ShareCreated,
)
from docstore_events.indexing import DocumentIndexFailed, DocumentsIndexed
from docstore_events.previews import DocumentPreviewFailed, DocumentPreviewsRecorded
from docstore_events.shares import ShareLinkCreated, ShareLinkUsed
from docstore_events.uploads import UploadCompleted
from docstore_messaging.runtime import EventRuntime

CONSUMED = (
    AccountCreated,
    AccountPlanChanged,
    AccountDeleted,
    FileVersionRecorded,
    FileDeleted,
    FileTrashed,
    FileRestored,
    FileDetailsChanged,
    UploadCompleted,
    FileDownloadUrlIssued,
    ShareCreated,
    ShareLinkCreated,
    ShareLinkUsed,
    DocumentIndexFailed,
    DocumentsIndexed,
    DocumentPreviewFailed,
    DocumentPreviewsRecorded,
)


def facts(envelope: Envelope[Any]) -> list[Fact]:
    """What the ledger keeps of one event: one fact, or for a batch of the indexer's outcomes one
    per failure in it (its id the event's and the document's: each counts once)."""
    e = envelope.data
    if isinstance(e, DocumentsIndexed | DocumentPreviewsRecorded):
        return [
            fact(replace(envelope, id=f"{envelope.id}/{one.document_id}/{one.version}", data=one))
            for one in e.each()
            if isinstance(one, DocumentIndexFailed | DocumentPreviewFailed)
        ]
    return [fact(envelope)]


def fact(envelope: Envelope[Any]) -> Fact:
    """What the ledger keeps of one event (its time is the event's, not the arrival's)."""
    i, e, at = envelope.id, envelope.data, envelope.time
    match e:
        case FileVersionRecorded():
            kind = document_type(e.content_type, e.filename)
            return Fact(
                i,
                "version",
                e.account_id,
                e.document_id,
                at,
                version=e.version,
                size=e.size,
                label=kind,
                name=e.filename,
            )
        case FileDeleted():
            return Fact(
                i,
                "deleted",
                e.account_id,
                e.document_id,
                at,
                size=e.size,
                versions=tuple(e.versions),
                whole=e.whole_document,
            )
        case FileTrashed():
            return Fact(i, "trashed", e.account_id, e.document_id, at)
        case FileRestored():
            return Fact(i, "restored", e.account_id, e.document_id, at)
        case FileDetailsChanged():
            return Fact(i, "renamed", e.account_id, e.document_id, at, name=e.name)
        case AccountCreated():
            return Fact(i, "plan", e.account_id, e.account_id, at, label=e.plan)
        case AccountPlanChanged():
            return Fact(i, "plan", e.account_id, e.account_id, at, label=e.new_plan)
        case AccountDeleted():
            return Fact(i, "closed", e.account_id, e.account_id, at)
        case UploadCompleted():
            return Fact(i, "upload", e.account_id, e.document_id, at, size=e.size, document_id=e.document_id)
        case FileDownloadUrlIssued():
            # The owner's figures: downloads of their document, by them or an account it is shared with.
            return Fact(i, "download", e.owner_id, e.document_id, at, document_id=e.document_id)
        case ShareCreated():
            return Fact(i, "shared", e.account_id, e.document_id, at, document_id=e.document_id)
        case ShareLinkCreated():
            return Fact(i, "link-created", e.account_id, e.link_id, at, document_id=e.document_id, name=e.document_name)
        case ShareLinkUsed():
            return Fact(i, "link-used", e.account_id, e.link_id, at, document_id=e.document_id)
        case DocumentIndexFailed():
            return Fact(i, "index-failed", e.account_id, e.document_id, at, document_id=e.document_id)
        case DocumentPreviewFailed():
            return Fact(i, "preview-failed", e.account_id, e.document_id, at, document_id=e.document_id)
    raise TypeError(f"analytics does not consume {envelope.type}")


def register(events: EventRuntime, recorder: Recorder) -> None:
    async def apply(envelopes: list[Envelope[Any]]) -> None:
        found = [one for envelope in envelopes for one in facts(envelope)]
        if found:
            await recorder.apply(found)

    events.subscribe_batch(apply, *CONSUMED)
