"""Upload's rules around grants and completion, with the outside world faked: what a refused
reservation answers, which completions re-check the right they were granted under and what a
rejection drops, how a write after completion is dealt with, and which redirect signatures and
path parameters are refused before any lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from docstore_kit.auth import require_account_id
from docstore_kit.errors import install_error_handlers
from docstore_upload.adapters.metadata_client import CurrentDocument, MetadataUnavailable
from docstore_upload.adapters.quota_client import Reservation
from docstore_upload.adapters.sessions import COMPLETED, PENDING, REJECTED
from docstore_upload.api import routes
from docstore_upload.domain.grants import NoRoom
from docstore_upload.domain.service import GrantRequest, Limits, NoLongerAllowed, OverQuota, UploadNotFound, Uploads

OWNER, EDITOR, DOC = "acc-owner", "acc-editor", "doc-1"


class Quota:
    def __init__(self, answer: Reservation) -> None:
        self.answer = answer
        self.reserved: list[tuple[str, str, int, datetime]] = []
        self.released: list[tuple[str, str]] = []

    async def reserve(self, account_id: str, upload_id: str, size: int, expires_at: datetime) -> Reservation:
        self.reserved.append((account_id, upload_id, size, expires_at))
        return self.answer

    async def release(self, account_id: str, upload_id: str) -> None:
        self.released.append((account_id, upload_id))


class Metadata:
    """Answers as metadata would: the document when `account_id` may write it, else None."""

    def __init__(self, writers: dict[str, CurrentDocument | None] | None = None, *, down: bool = False) -> None:
        self.writers = writers or {}
        self.down = down
        self.asked: list[tuple[str, str]] = []

    async def document(self, account_id: str, document_id: str) -> CurrentDocument | None:
        self.asked.append((account_id, document_id))
        if self.down:
            raise MetadataUnavailable("metadata timed out")
        return self.writers.get(account_id)


def current(*, trashed: bool = False) -> CurrentDocument:
    return CurrentDocument(document_id=DOC, owner_id=OWNER, current_version=1, name="a.txt", path="/", trashed=trashed)


class Events:
    """Runs a transaction's work at once; a grant refused before recording never gets here."""

    def __init__(self) -> None:
        self.transactions = 0

    async def transaction(self, work: Any) -> Any:
        self.transactions += 1
        return await work(None)


class Sessions:
    def __init__(self) -> None:
        self.finished: list[tuple[str, str, dict[str, Any]]] = []

    async def finish(self, upload_id: str, status: str, session: Any, **fields: Any) -> bool:
        self.finished.append((upload_id, status, fields))
        return True

    async def by_id(self, upload_id: str) -> None:
        raise AssertionError("looked up a session")


class Storage:
    bucket = "docstore-us-west-2"

    def __init__(self, existing: set[str] | None = None) -> None:
        self.existing = set(existing or ())
        self.deleted: list[str] = []
        self.aborted: list[str] = []

    async def exists(self, key: str) -> bool:
        return key in self.existing

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.existing.discard(key)

    async def abort_multipart(self, key: str, s3_upload_id: str) -> None:
        self.aborted.append(s3_upload_id)


def uploads(*, quota: Quota | None = None, metadata: Metadata | None = None, storage: Storage | None = None) -> Uploads:
    return Uploads(
        Events(), Sessions(), storage or Storage(),  # type: ignore[arg-type]
        quota or Quota(Reservation(True, 10**9, 10**9, False, "free")),  # type: ignore[arg-type]
        metadata or Metadata(),  # type: ignore[arg-type]
        region="us-west-2",
        limits=Limits(grant_seconds=900, multipart_threshold=10**8, multipart_part=16 * 2**20, multipart_seconds=86400),
        redirect_base="https://docstore.example", redirect_secret="s3cr3t",
    )


def row(**fields: Any) -> dict[str, Any]:
    key = f"us-west-2/{OWNER}/{DOC}/up-1"
    return {"_id": "up-1", "account_id": OWNER, "actor_id": OWNER, "document_id": DOC, "key": key,
            "staging_key": f"staging/{key}", "base_version": None, "status": PENDING, "declared_size": 4, **fields}


# --- grants reserve their room ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        (Reservation(granted=False, room_bytes=1999, cap_bytes=5000, over_quota=False, plan="free"), NoRoom),
        (Reservation(granted=False, room_bytes=0, cap_bytes=5000, over_quota=True, plan="free"), OverQuota),
    ],
)
async def test_a_refused_reservation_refuses_the_grant_before_anything_is_recorded(
    answer: Reservation, refused: type
) -> None:
    quota = Quota(answer)
    service = uploads(quota=quota, metadata=Metadata({EDITOR: current()}))
    with pytest.raises(refused) as raised:
        await service.grant(EDITOR, GrantRequest("a.txt", 3000, "text/plain", document_id=DOC, base_version=1))
    if refused is NoRoom:
        assert str(raised.value) == "not enough storage: this file needs 3000 bytes and 1999 bytes are left"
    # Held on the owner's account (an editor's new version is stored and counted as the owner's),
    # for this upload's size and until its grant expires.
    [(account, upload_id, size, until)] = quota.reserved
    assert account == OWNER and size == 3000 and upload_id
    assert timedelta(seconds=890) < until - datetime.now(UTC) <= timedelta(seconds=900)
    assert service.events.transactions == 0  # type: ignore[attr-defined]


# --- completion re-checks the right the grant was issued under ------------------------------------


@pytest.mark.parametrize(
    ("session", "asks"),
    [
        (row(), None),  # a new document of the owner's own: nothing can have been revoked
        (row(base_version=1), OWNER),  # a new version: the document must still be there
        (row(actor_id=EDITOR, base_version=1), EDITOR),  # an editor's: the share must still be there
    ],
)
async def test_completion_asks_metadata_only_when_a_right_could_have_been_withdrawn(
    session: dict, asks: str | None
) -> None:
    metadata = Metadata({OWNER: current(), EDITOR: current()})
    service = uploads(metadata=metadata)
    await service._still_allowed(session)
    assert metadata.asked == ([] if asks is None else [(asks, DOC)])
    assert service.sessions.finished == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("writers", "session"),
    [
        ({OWNER: current()}, row(actor_id=EDITOR, base_version=1)),  # the editor's share was revoked
        ({}, row(base_version=1)),  # the document was deleted
        ({OWNER: current(trashed=True)}, row(base_version=1)),  # ... or is in the trash
        ({EDITOR: current(trashed=True)}, row(actor_id=EDITOR, base_version=1, s3_upload_id="s3-up", staging_key=None)),
    ],
)
async def test_a_withdrawn_right_rejects_the_upload_and_drops_what_it_stored(writers: dict, session: dict) -> None:
    storage = Storage({session["key"], session.get("staging_key") or ""})
    quota = Quota(Reservation(True, 0, 0, False, "free"))
    service = uploads(metadata=Metadata(writers), storage=storage, quota=quota)
    with pytest.raises(NoLongerAllowed, match="the document was deleted, or its share was revoked"):
        await service._still_allowed(session)
    [(upload_id, status, fields)] = service.sessions.finished  # type: ignore[attr-defined]
    assert (upload_id, status) == ("up-1", REJECTED) and "revoked" in fields["reason"]
    assert session["key"] in storage.deleted  # a copy an earlier attempt made is not left behind
    if session.get("staging_key"):
        assert session["staging_key"] in storage.deleted
    else:
        assert storage.aborted == ["s3-up"]
    assert quota.released == [(OWNER, "up-1")]


async def test_metadata_unavailable_leaves_the_upload_pending_for_a_later_try() -> None:
    service = uploads(metadata=Metadata(down=True))
    with pytest.raises(MetadataUnavailable):
        await service._still_allowed(row(actor_id=EDITOR, base_version=1))
    assert service.sessions.finished == []  # type: ignore[attr-defined]


# --- writes after completion ------------------------------------------------------------------


async def test_a_write_after_completion_is_logged_without_the_form_and_deleted() -> None:
    finished = row(status=COMPLETED)
    storage = Storage({finished["staging_key"], finished["key"]})
    service = uploads(storage=storage)
    with structlog.testing.capture_logs() as logs:
        assert await service.late_write(finished)
    assert storage.deleted == [finished["staging_key"]] and finished["key"] in storage.existing
    [entry] = [e for e in logs if e["event"] == "upload_late_write"]
    assert entry["log_level"] == "warning" and entry["upload_id"] == "up-1" and entry["account_id"] == OWNER
    assert not any("http" in str(value) or "signature" in str(value).lower() for value in entry.values())


@pytest.mark.parametrize(
    ("session", "stored"),
    [
        (row(status=PENDING), True),  # still pending: this is the upload itself arriving
        (row(status=COMPLETED), False),  # nothing came after completion
        (row(status=COMPLETED, staging_key=None, s3_upload_id="s3-up"), True),  # multipart: no staging key
    ],
)
async def test_nothing_else_counts_as_a_late_write(session: dict, stored: bool) -> None:
    storage = Storage({session["key"], session.get("staging_key") or ""} if stored else {session["key"]})
    service = uploads(storage=storage)
    assert not await service.late_write(session)
    assert storage.deleted == []


# --- the browser's signed link and path parameters ---------------------------------------------


@pytest.mark.parametrize(
    "signature",
    ["", "0" * 31, "0" * 32, "0" * 33, "é" * 32, "\x00" * 32, "g" * 32, "%" * 32],
)
async def test_wrong_malformed_or_non_ascii_signatures_are_not_found_before_any_lookup(signature: str) -> None:
    service = uploads()  # Sessions.by_id fails the test if reached
    with pytest.raises(UploadNotFound):
        await service.complete_from_redirect("up-1", signature)


async def test_a_signature_for_another_upload_is_not_found() -> None:
    service = uploads()
    other = service.redirect_url("up-2").rsplit("/", 1)[1]
    with pytest.raises(UploadNotFound):
        await service.complete_from_redirect("up-1", other)


class NeverCalled:
    async def _fail(self, *_: Any) -> Any:
        raise AssertionError("a malformed path reached the service")

    complete = abort = parts = complete_from_redirect = _fail


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/up%00x/complete",
        "/uploads/up%0Ax",
        "/uploads/%C3%A9t%C3%A9/parts",
        "/uploads/up%7F/done/" + "0" * 32,
        "/uploads/up-1/done/%C3%A9" + "0" * 30,
        "/uploads/up-1/done/%FF%FE",
        "/uploads/up-1/done/" + "0" * 65,
        "/uploads/" + "a" * 65,
    ],
)
async def test_control_characters_bad_encodings_and_overlong_ids_in_paths_are_a_4xx(path: str) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(routes.router)
    app.dependency_overrides[routes._uploads] = NeverCalled
    app.dependency_overrides[require_account_id] = lambda: OWNER
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upload") as client:
        if path.endswith("/complete"):
            response = await client.post(path)
        elif path == "/uploads/" + "a" * 65:
            response = await client.delete(path)
        else:
            response = await client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    assert "é" not in response.text and "\x00" not in response.text
