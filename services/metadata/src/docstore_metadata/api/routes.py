"""Metadata's HTTP routes: accounts, credentials (internal) and documents."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, status

from docstore_kit.auth import CurrentAccountId
from docstore_metadata.adapters.repositories import InvalidCursor
from docstore_metadata.api.deps import DocumentsDep, MetadataDep, S3SignerDep, SettingsDep
from docstore_metadata.api.schemas import (
    AccountOut,
    CredentialsIn,
    DocumentOut,
    DocumentPage,
    DownloadOut,
    PlanIn,
    SignupIn,
    VersionOut,
)
from docstore_metadata.domain.accounts import InvalidSignup
from docstore_metadata.domain.service import UsernameTaken

router = APIRouter()


def _account_out(account: Any) -> AccountOut:
    if isinstance(account, dict):
        return AccountOut(
            account_id=account["_id"], username=account["username"], email=account["email"],
            plan=account["plan"], home_region=account["home_region"],
        )
    return AccountOut(
        account_id=account.id, username=account.username, email=account.email,
        plan=account.plan, home_region=account.home_region,
    )


def _document_out(doc: dict[str, Any]) -> DocumentOut:
    return DocumentOut(
        document_id=doc["_id"], name=doc["name"], title=doc.get("title"), tags=doc.get("tags", []),
        path=doc.get("path", "/"), content_type=doc["content_type"], size=doc["size"], sha256=doc["sha256"],
        version=doc["current_version"], created_at=doc["created_at"], modified_at=doc["modified_at"],
    )


@router.post("/accounts", status_code=status.HTTP_201_CREATED, tags=["accounts"], summary="Sign up")
async def sign_up(body: SignupIn, metadata: MetadataDep) -> AccountOut:
    try:
        account = await metadata.sign_up(username=body.username, email=body.email, password=body.password, plan=body.plan)
    except InvalidSignup as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from error
    except UsernameTaken as error:
        raise HTTPException(status.HTTP_409_CONFLICT, f"username {error} is taken") from error
    return _account_out(account)


@router.post("/internal/credentials/verify", tags=["internal"], summary="Check a username and password (gateway only)")
async def verify_credentials(body: CredentialsIn, metadata: MetadataDep) -> AccountOut:
    account = await metadata.authenticate(body.username, body.password)
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    return _account_out(account)


@router.get("/account", tags=["accounts"], summary="The caller's account")
async def my_account(account_id: CurrentAccountId, metadata: MetadataDep) -> AccountOut:
    account = await metadata.accounts.by_id(account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "account not found")
    return _account_out(account)


@router.put("/account/plan", tags=["accounts"], summary="Move the caller's account to another plan")
async def change_plan(body: PlanIn, account_id: CurrentAccountId, metadata: MetadataDep) -> AccountOut:
    try:
        return _account_out(await metadata.change_plan(account_id, body.plan))
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "account not found") from error


@router.get("/documents", tags=["documents"], summary="The caller's documents, most recently modified first")
async def list_documents(
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DocumentPage:
    try:
        rows, next_cursor = await documents.page(account_id, limit=min(limit, settings.page_size_max), cursor=cursor)
    except InvalidCursor as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    return DocumentPage(items=[_document_out(row) for row in rows], next_cursor=next_cursor)


async def _owned_or_404(documents: DocumentsDep, account_id: str, document_id: str) -> dict[str, Any]:
    # Someone else's document answers exactly like a missing one: ids reveal nothing.
    doc = await documents.owned(account_id, document_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "document not found")
    return doc


@router.get("/documents/{document_id}", tags=["documents"], summary="One document")
async def get_document(document_id: str, account_id: CurrentAccountId, documents: DocumentsDep) -> DocumentOut:
    return _document_out(await _owned_or_404(documents, account_id, document_id))


@router.get("/documents/{document_id}/versions", tags=["documents"], summary="A document's versions, newest first")
async def list_versions(document_id: str, account_id: CurrentAccountId, documents: DocumentsDep) -> list[VersionOut]:
    await _owned_or_404(documents, account_id, document_id)
    return [
        VersionOut(version=v["version"], size=v["size"], sha256=v["sha256"], etag=v["etag"],
                   content_type=v["content_type"], created_at=v["created_at"])
        for v in await documents.versions_of(document_id)
    ]


@router.get("/documents/{document_id}/download", tags=["documents"], summary="A short-lived signed URL for the bytes")
async def download(
    document_id: str,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    signer: S3SignerDep,
    settings: SettingsDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> DownloadOut:
    doc = await _owned_or_404(documents, account_id, document_id)
    stored = await documents.version(document_id, version or doc["current_version"])
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"version {version} not found")
    disposition = f"attachment; filename*=UTF-8''{quote(doc['name'])}"
    url = await asyncio.to_thread(
        signer.generate_presigned_url,
        "get_object",
        Params={"Bucket": stored["bucket"], "Key": stored["key"], "ResponseContentDisposition": disposition},
        ExpiresIn=settings.download_url_seconds,
    )
    return DownloadOut(url=url, expires_in=settings.download_url_seconds)
