"""The indexer's catalog: what it knows of every document of every account. Pure functions.

The catalog is kept for all accounts, Free included, from `file.version-recorded` and the
`file.*` events, so that an upgrade to Premium can backfill the account's documents
without asking another service. Events about one document travel on different topics
and can arrive in any order; each fact carries the CloudEvents time it happened, and
the later fact wins:

* the newest upload (see `versions.decide`) gives the object to index and the version;
* details (name, path, tags) come from the upload unless a later `file.details-changed`
  set them;
* trashed / restored: the later of the two wins;
* a whole-document delete is final: the entry becomes a tombstone, and later-arriving
  events about the document change nothing.

An event that arrives before the document's upload leaves a stub (no upload yet) that the
upload completes later; nothing ever waits for another event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from docstore_indexer.domain.versions import IndexedState, Upload, decide


@dataclass(frozen=True)
class CatalogEntry:
    account_id: str
    document_id: str
    # The newest upload known (None in a stub made by an early file.* event).
    upload_id: str | None = None
    version: int = 0
    uploaded_at: datetime | None = None
    bucket: str = ""
    key: str = ""
    content_type: str = ""
    size: int = 0
    # Details.
    name: str = ""
    path: str = "/"
    tags: tuple[str, ...] = ()
    details_as_of: datetime | None = None
    # Trash.
    trashed: bool = False
    trash_as_of: datetime | None = None
    # Deletion (final).
    deleted_at: datetime | None = None
    # What the search index holds for this document (None: nothing).
    indexed_upload_id: str | None = None
    index_status: str = ""
    # Why the text of the indexed upload could not be extracted (with `index_status` "failed").
    index_reason: str = ""
    # The upload waits for the indexing worker (Premium): set with the upload, cleared when indexed.
    index_due: bool = False
    # The W3C traceparent of the upload's handling, so indexing it later continues that trace.
    traceparent: str = ""

    @property
    def id(self) -> str:
        return entry_id(self.account_id, self.document_id)

    @property
    def has_upload(self) -> bool:
        return self.upload_id is not None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_indexed(self) -> bool:
        return self.indexed_upload_id is not None

    @property
    def index_is_current(self) -> bool:
        return self.indexed_upload_id is not None and self.indexed_upload_id == self.upload_id


INDEXED, FAILED, PENDING = "indexed", "failed", "pending"


def full_text_state(entry: CatalogEntry) -> str:
    """Where a live document's full text stands: `indexed` (its current upload's text is
    searchable), `failed` (the text of its current upload could not be extracted; it is still
    found by name and tags) or `pending` (not yet indexed: waiting for the worker or a
    backfill). `CatalogRepository.count_states` counts with the same rule in MongoDB."""
    if entry.index_status == FAILED and not entry.index_due:
        return FAILED
    if entry.index_status == INDEXED and entry.index_is_current and not entry.index_due:
        return INDEXED
    return PENDING


def entry_id(account_id: str, document_id: str) -> str:
    return f"{account_id}:{document_id}"


@dataclass(frozen=True)
class NewUpload:
    """A recorded version (`file.version-recorded`) as the catalog sees it."""

    account_id: str
    document_id: str
    upload_id: str
    at: datetime
    bucket: str
    key: str
    content_type: str
    size: int
    name: str
    path: str
    tags: tuple[str, ...]
    version: int | None = None


@dataclass(frozen=True)
class Outcome:
    changed: bool
    entry: CatalogEntry | None
    reason: str = ""


def on_upload(stored: CatalogEntry | None, upload: NewUpload) -> Outcome:
    """The entry after `upload`, or unchanged (with the reason) when it is not the newest."""
    if stored is not None and stored.deleted:
        return Outcome(False, stored, "document deleted")
    if stored is not None and stored.has_upload:
        assert stored.uploaded_at is not None and stored.upload_id is not None
        decision = decide(
            IndexedState(
                stored.account_id,
                stored.document_id,
                stored.upload_id,
                stored.version,
                stored.uploaded_at,
                stored.index_status,
            ),
            Upload(upload.upload_id, upload.at, upload.version),
        )
    else:
        decision = decide(None, Upload(upload.upload_id, upload.at, upload.version))
    if not decision.index:
        return Outcome(False, stored, decision.reason)
    base = stored or CatalogEntry(upload.account_id, upload.document_id)
    entry = replace(
        base,
        upload_id=upload.upload_id,
        version=decision.version,
        uploaded_at=upload.at,
        bucket=upload.bucket,
        key=upload.key,
        content_type=upload.content_type,
        size=upload.size,
    )
    if base.details_as_of is None or upload.at > base.details_as_of:
        entry = replace(entry, name=upload.name, path=upload.path, tags=upload.tags, details_as_of=upload.at)
    return Outcome(True, entry)


def on_details(
    stored: CatalogEntry | None,
    account_id: str,
    document_id: str,
    *,
    name: str,
    path: str,
    tags: tuple[str, ...],
    at: datetime,
) -> Outcome:
    """Rename, move or re-tag; older news than what the entry holds changes nothing."""
    base = stored or CatalogEntry(account_id, document_id)
    if base.deleted:
        return Outcome(False, base, "document deleted")
    if base.details_as_of is not None and at < base.details_as_of:
        return Outcome(False, base, "older than the details held")
    return Outcome(True, replace(base, name=name, path=path, tags=tags, details_as_of=at))


def on_trash(stored: CatalogEntry | None, account_id: str, document_id: str, *, trashed: bool, at: datetime) -> Outcome:
    """Moved to the trash (`trashed`) or restored from it; the later fact wins."""
    base = stored or CatalogEntry(account_id, document_id)
    if base.deleted:
        return Outcome(False, base, "document deleted")
    if base.trash_as_of is not None and at < base.trash_as_of:
        return Outcome(False, base, "older than the trash state held")
    return Outcome(True, replace(base, trashed=trashed, trash_as_of=at))


def on_delete(stored: CatalogEntry | None, account_id: str, document_id: str, at: datetime) -> Outcome:
    """The whole document is gone: a tombstone, so late events cannot bring it back."""
    base = stored or CatalogEntry(account_id, document_id)
    if base.deleted:
        return Outcome(False, base, "already deleted")
    return Outcome(True, CatalogEntry(account_id, document_id, deleted_at=at))


def searchable(entry: CatalogEntry) -> bool:
    """Whether the entry belongs in the index at all (a live document with an upload)."""
    return entry.has_upload and not entry.deleted
