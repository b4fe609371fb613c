"""Which upload of a document is the one in the index. Pure functions.

`file.version-recorded` (from `metadata`, which owns versions) carries the version
number: a higher one replaces what the index holds; an older one arriving late, or the
indexed one again, changes nothing. Without a number (events recorded before versions
travelled), the event's CloudEvents `time` orders uploads, ties broken by upload id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IndexedState:
    """What the index holds for one document: which upload, as which version, since when."""

    account_id: str
    document_id: str
    upload_id: str
    version: int
    uploaded_at: datetime
    status: str  # "indexed" or "failed"


@dataclass(frozen=True)
class Upload:
    """A completed upload as the indexer sees it."""

    upload_id: str
    uploaded_at: datetime
    version: int | None = None
    """The version number, when the event carries one."""


@dataclass(frozen=True)
class Decision:
    index: bool
    version: int
    reason: str = ""


def decide(stored: IndexedState | None, upload: Upload) -> Decision:
    """Whether `upload` replaces what the index holds for its document, and as which version."""
    if stored is None:
        return Decision(True, upload.version or 1)
    if upload.upload_id == stored.upload_id:
        return Decision(False, stored.version, "already indexed")
    if upload.version is not None:
        if upload.version > stored.version:
            return Decision(True, upload.version)
        return Decision(False, stored.version, "older than the indexed version")
    if (upload.uploaded_at, upload.upload_id) > (stored.uploaded_at, stored.upload_id):
        return Decision(True, stored.version + 1)
    return Decision(False, stored.version, "older than the indexed version")
