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
from upload_fakes import DOC, EDITOR, OWNER, FakeMetadata, FakeQuota, FakeStorage, current, world
from upload_fakes import session_row as row

from docstore_kit.auth import require_account_id
from docstore_kit.errors import install_error_handlers
from docstore_upload.adapters.metadata_client import MetadataUnavailable
from docstore_upload.api import deps, routes
from docstore_upload.domain.errors import NoLongerAllowed, NoRoom, OverQuota, UploadNotFound
from docstore_upload.domain.grants import GrantRequest, Reservation
from docstore_upload.domain.sessions import COMPLETED, PENDING, REJECTED
from docstore_upload.service_layer import checks as checks_module

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
    quota = FakeQuota(answer)
    w = world(quota=quota, metadata=FakeMetadata({EDITOR: current()}))
    with pytest.raises(refused) as raised:
        await w.grants.grant(EDITOR, GrantRequest("a.txt", 3000, "text/plain", document_id=DOC, base_version=1))
    if refused is NoRoom:
        # No next plan in quota's answer: no upgrade hint, the way to make room instead.
        assert str(raised.value) == (
            "This file is 3 KB but only 2.0 KB is left on your Free plan. "
            "Delete files you no longer need and empty the trash to make room."
        )
    # Held on the owner's account (an editor's new version is stored and counted as the owner's),
    # for this upload's size and until its grant expires.
    [(account, upload_id, size, until)] = quota.reserved
    assert account == OWNER and size == 3000 and upload_id
    assert timedelta(seconds=890) < until - datetime.now(UTC) <= timedelta(seconds=900)
    assert w.uow.commits == 0 and w.sessions.rows == {} and w.uow.emitted == []


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
    metadata = FakeMetadata({OWNER: current(), EDITOR: current()})
    w = world(session, metadata=metadata)
    await w.completion.still_allowed(session)
    assert metadata.asked == ([] if asks is None else [(asks, DOC)])
    assert w.sessions.finished == []


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
    storage = FakeStorage({session["key"], session.get("staging_key") or ""})
    quota = FakeQuota(Reservation(True, 0, 0, False, "free"))
    w = world(session, metadata=FakeMetadata(writers), storage=storage, quota=quota)
    with pytest.raises(NoLongerAllowed, match="the document was deleted, or it is no longer shared with you"):
        await w.completion.still_allowed(session)
    [(upload_id, status, fields)] = w.sessions.finished
    assert (upload_id, status) == ("up-1", REJECTED) and "revoked" in fields["reason"]
    assert session["key"] in storage.deleted  # a copy an earlier attempt made is not left behind
    if session.get("staging_key"):
        assert session["staging_key"] in storage.deleted
    else:
        assert storage.aborted == ["s3-up"]
    assert quota.released == [(OWNER, "up-1")]


async def test_metadata_unavailable_leaves_the_upload_pending_for_a_later_try() -> None:
    session = row(actor_id=EDITOR, base_version=1)
    w = world(session, metadata=FakeMetadata(down=True))
    with pytest.raises(MetadataUnavailable):
        await w.completion.still_allowed(session)
    assert w.sessions.finished == [] and w.sessions.rows["up-1"]["status"] == PENDING


# --- writes after completion ------------------------------------------------------------------


async def test_a_write_after_completion_is_logged_without_the_form_and_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    finished = row(status=COMPLETED)
    storage = FakeStorage({finished["staging_key"], finished["key"]})
    w = world(finished, storage=storage)
    with structlog.testing.capture_logs() as logs:
        # A logger first used before a later `structlog.configure` (every in-process app start
        # calls one) stays cached on the old processor list, which `capture_logs` does not
        # touch: log through a fresh one.
        monkeypatch.setattr(checks_module, "log", structlog.get_logger(checks_module.__name__))
        assert await w.checks.late_write(finished)
    assert storage.deleted == [finished["staging_key"]] and finished["key"] in storage.objects
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
    storage = FakeStorage({session["key"], session.get("staging_key") or ""} if stored else {session["key"]})
    w = world(session, storage=storage)
    assert not await w.checks.late_write(session)
    assert storage.deleted == []


# --- the browser's signed link and path parameters ---------------------------------------------


@pytest.mark.parametrize(
    "signature",
    ["", "0" * 31, "0" * 32, "0" * 33, "é" * 32, "\x00" * 32, "g" * 32, "%" * 32],
)
async def test_wrong_malformed_or_non_ascii_signatures_are_not_found_before_any_lookup(signature: str) -> None:
    w = world(row())
    w.sessions.by_id = NeverCalled()._fail  # type: ignore[method-assign]  # no lookup before the signature is checked
    with pytest.raises(UploadNotFound):
        await w.completion.complete_from_redirect("up-1", signature)


async def test_a_signature_for_another_upload_is_not_found() -> None:
    w = world(row())
    other = w.use_cases.redirects.url("up-2").rsplit("/", 1)[1]
    with pytest.raises(UploadNotFound):
        await w.completion.complete_from_redirect("up-1", other)
    assert w.sessions.rows["up-1"]["status"] == PENDING


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
    for use_case in (deps.grants, deps.batch_grants, deps.completion, deps.batch_completion, deps.endings):
        app.dependency_overrides[use_case] = NeverCalled
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
