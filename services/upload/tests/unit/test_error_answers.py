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
    StaleBase,
    TooLarge,
    UploadClosed,
    UploadNotFound,
)

UNAVAILABLE = "cannot check this upload right now; try again"

CASES = [
    (InvalidUpload("filename: must not be empty"), 422, "filename: must not be empty"),
    (NoRoom(10, 4), 413, "not enough storage: this file needs 10 bytes and 4 bytes are left"),
    (OverQuota("this account is over its storage cap"), 403, "this account is over its storage cap"),
    (
        StaleBase(2),
        409,
        {"message": "the document is at version 2: download it and merge your change", "current_version": 2},
    ),
    (UploadNotFound("up-1"), 404, "upload or document not found"),
    (
        NotStoredYet("parts still missing: [2]"),
        409,
        "the file has not fully arrived in storage yet (parts still missing: [2])",
    ),
    (UploadClosed("this upload is aborted"), 409, "this upload is aborted"),
    (TooLarge("11 bytes arrived but 10 were declared"), 422, "11 bytes arrived but 10 were declared"),
    (NoLongerAllowed("this upload is no longer allowed"), 403, "this upload is no longer allowed"),
    (QuotaUnavailable("connect to quota:8084 refused"), 503, UNAVAILABLE),
    (MetadataUnavailable("metadata timed out"), 503, UNAVAILABLE),
]


class FailingUploads:
    """Every operation the routes call raises the one error under test."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def _fail(self, *_: Any) -> Any:
        raise self.error

    grant = parts = complete = abort = complete_from_redirect = _fail


def client_for(error: Exception) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(routes.router)
    app.dependency_overrides[deps.uploads] = lambda: FailingUploads(error)
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
