"""Upload's HTTP routes: grants and completion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from docstore_kit.auth import CurrentAccountId
from docstore_upload.adapters.quota_client import QuotaUnavailable
from docstore_upload.domain.grants import InvalidUpload, NoRoom
from docstore_upload.domain.service import GrantRequest, NotStoredYet, OverQuota, UploadNotFound, Uploads


def _uploads(request: Request) -> Uploads:
    return request.app.state.uploads


UploadsDep = Annotated[Uploads, Depends(_uploads)]

router = APIRouter(tags=["uploads"])


class GrantIn(BaseModel):
    filename: str = Field(max_length=1024, examples=["report.pdf"])
    size: int = Field(description="Bytes the file has; the signed form allows no more", examples=[52431])
    content_type: str = Field(max_length=255, examples=["application/pdf"])
    title: str | None = Field(default=None, max_length=512)
    tags: list[str] = Field(default_factory=list)
    path: str = Field(default="/", description="Folder the document lives in", max_length=2048)


class FormOut(BaseModel):
    url: str
    fields: dict[str, str]


class GrantOut(BaseModel):
    upload_id: str
    document_id: str
    key: str
    expires_at: datetime
    max_size: int
    form: FormOut = Field(description="POST these fields, then the file as `file`, to `url`")


class UploadOut(BaseModel):
    upload_id: str
    document_id: str
    status: str
    size: int | None = None
    etag: str | None = None
    sha256: str | None = None


def _upload_out(row: dict[str, Any]) -> UploadOut:
    stored = row.get("stored") or {}
    return UploadOut(
        upload_id=row["_id"], document_id=row["document_id"], status=row["status"],
        size=stored.get("size"), etag=stored.get("etag"), sha256=stored.get("sha256"),
    )


@router.post("/uploads", status_code=status.HTTP_201_CREATED, summary="Ask for a signed S3 POST form")
async def create_grant(body: GrantIn, account_id: CurrentAccountId, uploads: UploadsDep) -> GrantOut:
    request = GrantRequest(
        filename=body.filename, size=body.size, content_type=body.content_type,
        title=body.title, tags=tuple(body.tags), path=body.path,
    )
    try:
        issued = await uploads.grant(account_id, request)
    except InvalidUpload as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from error
    except NoRoom as error:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from error
    except OverQuota as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from error
    except QuotaUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "storage quota cannot be checked right now; try again") from error
    grant = issued.grant
    return GrantOut(
        upload_id=grant.upload_id, document_id=grant.document_id, key=grant.key, expires_at=grant.expires_at,
        max_size=issued.max_size, form=FormOut(url=issued.form["url"], fields=issued.form["fields"]),
    )


@router.post("/uploads/{upload_id}/complete", summary="Say the file is in S3; its facts are read from S3")
async def complete(upload_id: str, account_id: CurrentAccountId, uploads: UploadsDep) -> UploadOut:
    try:
        return _upload_out(await uploads.complete(account_id, upload_id))
    except UploadNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "upload not found") from error
    except NotStoredYet as error:
        raise HTTPException(status.HTTP_409_CONFLICT, "the file has not arrived in storage yet") from error


@router.get("/uploads/{upload_id}", summary="An upload's state")
async def get_upload(upload_id: str, account_id: CurrentAccountId, uploads: UploadsDep) -> UploadOut:
    row = await uploads.sessions.get(account_id, upload_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "upload not found")
    return _upload_out(row)
