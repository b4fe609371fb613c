"""What must agree about recorded versions, as pure rules (the consistency check of issue 32).

Metadata owns the fact "this version was recorded" (a row of `versions`), and announces each
with `file.version-recorded`; the indexer keeps its catalog (and full text) from them, and says
it applied one with the processed-event record it wrote with the effect, under the event's id.

The event's id is derived from the version (`version_recorded_event_id`), so the check can ask
for it, and publish the event again under the same id, rebuilt from the version and its
document: the indexer's record then makes it count once. A version recorded before ids were
derived has a random id, which only its outbox row still knows; once that row is gone the
version cannot be compared (`docstore_kit.consistency.compare`). A version younger than the settle time is
not judged: its event may still be on its way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from docstore_events import FileVersionRecorded

_NAMESPACE = uuid.UUID("0b6c8a52-3f7e-4d2a-b1a4-9c8f7e6d5a41")
CONSUMERS = ("indexer",)

Row = Mapping[str, Any]


def version_recorded_event_id(document_id: str, version: int) -> str:
    """The id of `file.version-recorded` for version `version` of `document_id`: always the same."""
    return str(uuid.uuid5(_NAMESPACE, f"file.version-recorded:{document_id}:{version}"))


def fact_of(row: Row) -> str:
    """A version's fact id: `<document id>:<version>` (its row's `_id`)."""
    return f"{row['document_id']}:{row['version']}"


def recorded_from_state(document: Row, row: Row, *, conflict_of: str | None = None) -> FileVersionRecorded:
    """`file.version-recorded` of version `row` of `document`: as recorded (with `conflict_of` for
    a conflict copy's first version), or rebuilt by the consistency check from the rows (the
    document's current details, as a later `file.details-changed` would have told the indexer
    anyway; without `conflict_of`, which no row keeps)."""
    return FileVersionRecorded(
        account_id=document["account_id"],
        document_id=document["_id"],
        version=row["version"],
        upload_id=row["upload_id"],
        bucket=row["bucket"],
        key=row["key"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size"],
        sha256=row["sha256"],
        title=document.get("title"),
        tags=document.get("tags", []),
        path=document.get("path", "/"),
        conflict_of=conflict_of,
    )


def watermark(row: Row) -> list[Any]:
    """Where the page after `row` starts: creation time, then id."""
    return [row["created_at"], row["_id"]]


def settled_before(now: datetime, settle_seconds: float) -> datetime:
    """Versions created before this time are old enough to judge."""
    return now - timedelta(seconds=settle_seconds)
