"""Events about documents. All are emitted by `metadata`, which owns documents."""

from __future__ import annotations

from docstore_events.base import Event


class FileVersionRecorded(Event):
    """Emitted by `metadata` for every version it records: a new document's first version,
    a next version, a conflict copy (a new document holding the losing upload) or a restored
    old version (same bytes). Carries where the bytes are, so `indexer` needs nothing else.
    """

    type = "file.version-recorded"

    document_id: str
    version: int
    upload_id: str
    bucket: str
    key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    title: str | None = None
    tags: list[str] = []
    path: str = "/"
    conflict_of: str | None = None
    """For a conflict copy: the document the upload was meant for."""


class FileModified(Event):
    """Emitted by `metadata` when a document gets a second or later version.

    `notify` mails followers; `indexer` replaces the document's text.
    `account_id` is the owner; `actor_id` is who made the change.
    """

    type = "file.modified"

    document_id: str
    version: int
    name: str
    size: int
    actor_id: str


class FileDeleted(Event):
    """Emitted by `metadata` when bytes leave the account: purge or version pruning.

    `quota` subtracts `size`; `indexer` drops the document when `whole_document`.
    """

    type = "file.deleted"

    document_id: str
    versions: list[int]
    size: int
    whole_document: bool = True


class ShareCreated(Event):
    """Emitted by `metadata` when an owner shares a document with another account."""

    type = "share.created"

    document_id: str
    grantee_id: str
    permission: str
    document_name: str = ""
    """The document's name when it was shared, for the grantee's mail (issue 37)."""
    owner_username: str = ""
    """Who shared it, for the grantee's mail ("" from before issue 37)."""


class FileTrashed(Event):
    """Emitted by `metadata` when the owner moves a document to the trash.

    Bytes stay (and still count toward quota) until the purge; `indexer` hides it from search.
    """

    type = "file.trashed"

    document_id: str
    folder_id: str | None = None
    """Set when a folder operation (`folder.moved`, `folder.trashed`, `folder.restored`) changed
    this document along with everything else inside: that folder. The audit trail records the
    folder's one event instead of one per document."""


class FileRestored(Event):
    """Emitted by `metadata` when the owner restores a document from the trash."""

    type = "file.restored"

    document_id: str
    folder_id: str | None = None
    """Set when a folder operation (`folder.moved`, `folder.trashed`, `folder.restored`) changed
    this document along with everything else inside: that folder. The audit trail records the
    folder's one event instead of one per document."""


class FileDetailsChanged(Event):
    """Emitted by `metadata` when a document is renamed, moved to another folder or re-tagged."""

    type = "file.details-changed"

    document_id: str
    name: str
    path: str
    tags: list[str]
    folder_id: str | None = None
    """Set when a folder operation (`folder.moved`, `folder.trashed`, `folder.restored`) changed
    this document along with everything else inside: that folder. The audit trail records the
    folder's one event instead of one per document."""
