"""What each of upload's domain errors answers: the status and `detail` clients rely on, as
problem+json from the shared handler (the routes hold no mapping of their own), and the
browser's landing page rendering the same message as HTML."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from docstore_kit.auth import require_account_id
from docstore_kit.errors import PROBLEM_JSON, install_error_handlers
from docstore_upload.adapters.metadata_client import MetadataUnavailable
from docstore_upload.adapters.quota_client import QuotaUnavailable
from docstore_upload.api import deps, routes
from docstore_upload.domain.errors import (
    InvalidUpload,
    NoLongerAllowed,
    NoRoom,
    NotStoredYet,
    OverQuota,
    Room,
    StaleBase,
    TooLarge,
    UploadClosed,
    UploadNotFound,
    over_quota_message,
)

UNAVAILABLE = "This upload can't be checked right now. Try again in a moment."

FREE = Room("free", 5_000_000_000, "premium", 20_000_000_000)

CASES = [
    (InvalidUpload("A name can't be empty.", field="filename"), 422, "A name can't be empty."),
    (
        NoRoom(6_442_450_944, 4_999_997_022, FREE),
        413,
        "This file is 6.4 GB but only 5.0 GB is left on your Free plan. Upgrade to Premium for 20 GB.",
    ),
    (OverQuota(FREE), 403, over_quota_message(FREE)),
    (
        StaleBase(2),
        409,
        {
            "message": "Someone saved a newer version of this document (version 2) while you worked on it. "
            "Download it, add your change to it and upload again.",
            "current_version": 2,
        },
    ),
    (UploadNotFound("up-1"), 404, "This upload or document could not be found. It may have been deleted."),
    (
        NotStoredYet("parts still missing: [2]", missing_parts=[2]),
        409,
        "Some parts of the file have not arrived yet. Send them, then finish the upload again.",
    ),
    (UploadClosed("aborted"), 409, "This upload was cancelled. Upload the file again to store it."),
    (
        TooLarge(10_000, 11_000),
        422,
        "The file that arrived (11 KB) is larger than the 10 KB announced when the upload started. Upload it again.",
    ),
    (
        NoLongerAllowed(),
        403,
        "This upload can't be saved: the document was deleted, or it is no longer shared with you for editing.",
    ),
    (QuotaUnavailable("connect to quota:8084 refused"), 503, UNAVAILABLE),
    (MetadataUnavailable("metadata timed out"), 503, UNAVAILABLE),
]


class FailingUseCases:
    """Every operation the routes call, of any use case, raises the one error under test."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def _fail(self, *_: Any) -> Any:
        raise self.error

    grant = parts = complete = abort = complete_from_redirect = _fail


def client_for(error: Exception) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(routes.router)
    for use_case in (deps.grants, deps.batch_grants, deps.completion, deps.batch_completion, deps.endings):
        app.dependency_overrides[use_case] = lambda: FailingUseCases(error)
    app.dependency_overrides[require_account_id] = lambda: "acc-1"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upload")


GRANT = {"filename": "a.pdf", "size": 10, "content_type": "application/pdf"}


@pytest.mark.parametrize(
    ("error", "status", "detail"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None
)
async def test_every_route_answers_a_domain_error_with_its_status_and_detail(
    error: Exception, status: int, detail: Any
) -> None:
    async with client_for(error) as client:
        answers = [
            await client.post("/uploads", json=GRANT),
            await client.get("/uploads/up-1/parts"),
            await client.post("/uploads/up-1/complete"),
            await client.delete("/uploads/up-1"),
        ]
    for response in answers:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["detail"] == detail
        assert "connect to" not in response.text and "timed out" not in response.text


async def test_a_stale_base_also_names_the_current_version_at_the_top() -> None:
    async with client_for(StaleBase(5)) as client:
        response = await client.post("/uploads", json=GRANT | {"document_id": "doc-1", "base_version": 4})
    assert response.status_code == 409
    assert response.json()["current_version"] == 5 and response.json()["detail"]["current_version"] == 5


@pytest.mark.parametrize(
    ("error", "status", "detail"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None
)
async def test_the_browser_landing_page_shows_the_same_message_as_html(
    error: Exception, status: int, detail: Any
) -> None:
    async with client_for(error) as client:
        response = await client.get("/uploads/up-1/done/sig")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    message = detail if isinstance(detail, str) else detail["message"]
    assert "Upload not finished" in response.text
    assert message.replace("'", "&#x27;") in response.text


async def test_over_quota_answers_the_human_detail_and_the_machine_fields_beside_it() -> None:
    error = NoRoom(6_442_450_944, 4_999_997_022, FREE)
    async with client_for(error) as client:
        response = await client.post("/uploads", json=GRANT)
    body = response.json()
    assert response.status_code == 413 and body["type"] == "urn:docstore:problem:no-room"
    assert body["needed_bytes"] == 6_442_450_944 and body["available_bytes"] == 4_999_997_022
    assert body["plan"] == "free" and body["cap_bytes"] == 5_000_000_000
    assert body["upgrade_plan"] == "premium" and body["upgrade_cap_bytes"] == 20_000_000_000
    assert body["upgrade_url"] == "/v1/account/plan"
