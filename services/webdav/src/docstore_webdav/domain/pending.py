"""A PUT answered before metadata shows it (issue 38: one small PUT waited ~0.4-2 s for the
`upload.completed` event's way to metadata; under rclone's 8 transfers, seconds).

Once upload's completion has committed (the session completed and `upload.completed` in its
outbox, in one transaction), the write is durable: metadata records it from the event whatever
happens to this service. So the PUT is answered then, and this service keeps a *pending write*
(its own database, short-lived) for the path: the document id, the bytes' sha256 and size, and the
version it replaced. Until metadata shows that version, a PROPFIND or HEAD of the path is answered
from the pending write (read your writes: rclone's PROPFIND right after its PUT sees the size,
mtime and checksums), and whatever needs metadata's own record (GET's signed URL, an overwrite's
base version, DELETE, MOVE, COPY, a folder's listing) waits for it first, as the PUT used to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def recorded(pending: dict[str, Any], doc: dict[str, Any] | None) -> bool:
    """Whether metadata's `doc` shows the pending write: the same document, at a version newer
    than the one the write replaced (any version, for a new document)."""
    if doc is None or doc.get("document_id") != pending["document_id"]:
        return False
    base = pending.get("base_version")
    return base is None or int(doc.get("version") or 0) > int(base)


def still_at(doc: dict[str, Any], folder: str, name: str) -> bool:
    """Whether metadata's `doc` is the live document at `folder`/`name` (not moved, renamed or
    trashed since it was written there)."""
    return doc.get("path") == folder and doc.get("name") == name and not doc.get("trashed")


def shown(pending: dict[str, Any], name: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The document as a PROPFIND or HEAD shows it meanwhile (metadata's fields, marked `pending`)."""
    at = (now or datetime.now(UTC)).isoformat()
    return {
        "document_id": pending["document_id"],
        "name": name,
        "sha256": pending["sha256"],
        "size": int(pending["size"]),
        "content_type": pending.get("content_type") or "application/octet-stream",
        "created_at": pending.get("created_at") or at,
        "modified_at": pending.get("written_at") or at,
        "version": int(pending.get("base_version") or 0) + 1,
        "pending": True,
    }
