"""What must agree about completed uploads, as pure rules (the consistency check of issue 32).

Upload owns the fact "this upload completed": a session in `completed` holds everything
`upload.completed` carries (the object's size, ETag and sha256 read from S3 are its `stored`
facts). `metadata` must have recorded it (a version) and `quota` counted it (a ledger entry);
each says so with the processed-event record it wrote with its effect, under the event's id.

The event's id is derived from the upload (`completed_event_id`), and kept on the session
(`completed_event_id`), so the check can ask for it, and publish the event again under the
same id, from the session alone: the consumers' records then make it count once. A session
completed before ids were derived has a random id, which only its outbox row still knows;
once that row is gone, the id is unknown and the upload cannot be compared (`docstore_kit.consistency.compare`).

A session completed less than `settle` ago is not judged: its event may still be on its way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from docstore_events import UploadCompleted
from docstore_upload.domain.sessions import COMPLETED, Session, owner_and_actor

_NAMESPACE = uuid.UUID("6f1d7a2e-5b0c-4c1e-9a57-2f3f0d9c8e11")
CONSUMERS = ("metadata", "quota")
"""The services that apply `upload.completed` and keep processed-event records of it (the
indexer reads metadata's `file.version-recorded`, checked by metadata)."""


def completed_event_id(upload_id: str) -> str:
    """The id of `upload.completed` for `upload_id`: always the same for one upload."""
    return str(uuid.uuid5(_NAMESPACE, f"upload.completed:{upload_id}"))


def original_event_id(session: Session, outbox_ids: Mapping[str, str]) -> str | None:
    """The id `upload.completed` of this session went out under: kept on the session, else
    found in the outbox (sessions completed before ids were kept), else unknown."""
    return session.get("completed_event_id") or outbox_ids.get(session["_id"])


def completed_from_state(session: Session, *, bucket: str) -> UploadCompleted:
    """`upload.completed` rebuilt from a completed session: the same data it announced."""
    if session["status"] != COMPLETED or "stored" not in session:
        raise ValueError(f"upload {session['_id']} is not completed")
    owner, actor = owner_and_actor(session)
    stored = session["stored"]
    return UploadCompleted(
        account_id=owner,
        upload_id=session["_id"],
        document_id=session["document_id"],
        bucket=bucket,
        key=session["key"],
        filename=session["filename"],
        content_type=session["content_type"],
        size=stored["size"],
        etag=stored["etag"],
        sha256=stored["sha256"],
        title=session.get("title"),
        tags=session.get("tags", []),
        path=session.get("path", "/"),
        base_version=session.get("base_version"),
        actor_id=actor if actor != owner else None,
    )


def watermark(session: Session) -> list[Any]:
    """Where the page after `session` starts: completion time, then id."""
    return [session["finished_at"], session["_id"]]


def settled_before(now: datetime, settle_seconds: float) -> datetime:
    """Completions before this time are old enough to judge (their event had time to arrive)."""
    return now - timedelta(seconds=settle_seconds)
