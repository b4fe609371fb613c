"""Metadata's HTTP routes: accounts, credentials (internal) and documents."""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_metadata.adapters.repositories import InvalidCursor
from docstore_metadata.adapters.signing import sign_download
from docstore_metadata.api.deps import DocumentsDep, MetadataDep, S3SignerDep, SettingsDep, SharingDep
from docstore_metadata.api.schemas import (
    AccountIdPath,
    AccountOut,
    ChangeOut,
    ChangesOut,
    CompareIn,
    CompareOut,
    CredentialsIn,
    DetailsIn,
    DocumentIdPath,
    DocumentOut,
    DocumentPage,
    DownloadOut,
    InternalDocumentOut,
    PlanIn,
    ReplicaIn,
    ReplicaOut,
    SignupIn,
    VersionOut,
    VersionPath,
)
from docstore_metadata.domain.accounts import InvalidSignup
from docstore_metadata.domain.documents import (
    InvalidDetails,
    SearchCriteria,
    check_criteria,
    check_path,
    check_tags,
    compare,
)
from docstore_metadata.domain.sharing import NoAccess, OwnerOnly
from docstore_metadata.domain.service import (
    DocumentNotFound,
    HomeElsewhere,
    InTrash,
    InvalidReplica,
    NotInTrash,
    TrashExpired,
    UsernameLost,
    UsernameTaken,
    VersionNotFound,
)

router = APIRouter()


def _account_out(account: Any) -> AccountOut:
    if isinstance(account, dict):
        return AccountOut(
            account_id=account["_id"], username=account["username"], email=account["email"],
            plan=account["plan"], home_region=account["home_region"], role=account.get("role", "user"),
            status=account.get("status", "active"),
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
        trashed=bool(doc.get("trashed")), trashed_at=doc.get("trashed_at"),
    )


@router.post("/accounts", status_code=status.HTTP_201_CREATED, tags=["accounts"], summary="Sign up")
async def sign_up(body: SignupIn, metadata: MetadataDep) -> AccountOut:
    try:
        account = await metadata.sign_up(username=body.username, email=body.email, password=body.password, plan=body.plan)
    except InvalidSignup as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except UsernameTaken as error:
        raise HTTPException(status.HTTP_409_CONFLICT, f"username {error} is taken") from error
    return _account_out(account)


@router.post("/internal/credentials/verify", tags=["internal"], response_model=AccountOut,
             summary="Check a username and password (gateway only)")
async def verify_credentials(
    body: CredentialsIn, metadata: MetadataDep, settings: SettingsDep, _caller: ServiceCaller
) -> Any:
    """200 with the account; 401 for wrong credentials; 421 `{detail, home_region}` when the
    username's home is another region (log in there); 409 `{detail, code: "username_conflict",
    winner_region}` when the account lost its username to a simultaneous sign-up elsewhere."""
    try:
        account = await metadata.authenticate(body.username, body.password)
    except HomeElsewhere as error:
        return JSONResponse(status_code=421, content={
            "detail": f"this account's home is region {error.home_region}: log in there",
            "home_region": error.home_region,
        })
    except UsernameLost as error:
        return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={
            "detail": f"username {error.username} was taken at the same moment in region {error.winner_region}, "
                      "whose sign-up came first; this account can no longer log in under that name",
            "code": "username_conflict",
            "winner_region": error.winner_region,
        })
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    role = "admin" if account["username"] in settings.admins() else account.get("role", "user")
    return _account_out({**account, "role": role})


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


@router.delete("/account", status_code=status.HTTP_204_NO_CONTENT, tags=["accounts"], summary="Delete the caller's account")
async def delete_account(account_id: CurrentAccountId, metadata: MetadataDep) -> Response:
    """Marks the account deleted (`account.deleted`; replicated to the other regions). Its
    username stays reserved."""
    try:
        await metadata.delete_account(account_id)
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "account not found") from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/internal/replicas/{account_id}", tags=["internal"], summary="Store another region's account (replication only)")
async def put_replica(
    account_id: AccountIdPath, body: ReplicaIn, metadata: MetadataDep, settings: SettingsDep,
    x_replication_secret: Annotated[str | None, Header()] = None,
) -> ReplicaOut:
    """Idempotent: a version not above the one held changes nothing (and answers `applied: false`)."""
    if not x_replication_secret or not hmac.compare_digest(
        x_replication_secret.encode(errors="replace"), settings.replication_secret.encode()
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "replication secret required")
    try:
        applied = await metadata.receive_replica(account_id, body.model_dump())
    except InvalidReplica as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return ReplicaOut(account_id=account_id, applied=applied)


@router.get("/documents", tags=["documents"], summary="The caller's documents (or trash), sorted, keyset-paginated")
async def list_documents(
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    settings: SettingsDep,
    sort: Literal["modified", "created", "name", "size"] = "modified",
    order: Literal["asc", "desc"] | None = Query(None, description="Default: desc for dates and size, asc for name"),
    path: Annotated[str | None, Query(max_length=1024, description="Only the direct children of this folder")] = None,
    trashed: bool = Query(False, description="true: the trash view"),
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> DocumentPage:
    order = order or ("asc" if sort == "name" else "desc")
    try:
        folder = check_path(path) if path is not None else None
        rows, next_cursor = await documents.page(
            account_id, sort=sort, order=order, limit=min(limit, settings.page_size_max), cursor=cursor,
            path=folder, trashed=trashed,
        )
    except InvalidDetails as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except InvalidCursor as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    return DocumentPage(items=[_document_out(row) for row in rows], next_cursor=next_cursor)


@router.get("/documents/search", tags=["documents"], summary="Search by name, dates, tags and type (every plan)")
async def search_documents(
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    settings: SettingsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_match: Literal["prefix", "substring"] = "prefix",
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    modified_from: datetime | None = None,
    modified_to: datetime | None = None,
    tags: Annotated[str | None, Query(max_length=2048, description="Comma-separated; a document must have all")] = None,
    content_type: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> DocumentPage:
    """Walks one index (name prefix, a name trigram, a tag, the type or a date) and checks the other
    criteria on what it reads. A page may hold fewer than `limit` items while `next_cursor` is set:
    one request reads a bounded number of index rows."""
    try:
        criteria = check_criteria(SearchCriteria(
            name=name, name_match=name_match, created_from=created_from, created_to=created_to,
            modified_from=modified_from, modified_to=modified_to,
            tags=tuple(check_tags([t for t in tags.split(",") if t.strip()])) if tags else (),
            content_type=content_type.strip().lower() if content_type else None,
        ))
        rows, next_cursor = await documents.search(
            account_id, criteria, limit=min(limit, settings.page_size_max), cursor=cursor,
            scan_budget=settings.search_scan_budget,
        )
    except InvalidDetails as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except InvalidCursor as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    return DocumentPage(items=[_document_out(row) for row in rows], next_cursor=next_cursor)


async def _visible_or_404(sharing: SharingDep, account_id: str, document_id: str) -> dict[str, Any]:
    """The document when the caller owns it or it is shared with them. Anyone else's answers
    exactly like a missing one: ids reveal nothing."""
    try:
        return (await sharing.visible(account_id, document_id)).document
    except NoAccess as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "document not found") from error


async def _owner_only(sharing: SharingDep, account_id: str, document_id: str, action: str) -> None:
    """404 for documents the caller cannot see; 403 for ones shared with them."""
    try:
        await sharing.owned(account_id, document_id)
    except NoAccess as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "document not found") from error
    except OwnerOnly as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"only the document's owner can {action} it") from error


def _domain_errors(error: Exception) -> HTTPException:
    if isinstance(error, DocumentNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, "document not found")
    if isinstance(error, VersionNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, f"version {error} not found")
    if isinstance(error, InTrash):
        return HTTPException(status.HTTP_409_CONFLICT, "the document is in the trash: restore it first")
    if isinstance(error, NotInTrash):
        return HTTPException(status.HTTP_409_CONFLICT, "the document is not in the trash")
    if isinstance(error, TrashExpired):
        return HTTPException(status.HTTP_410_GONE, "the document has been in the trash too long to restore")
    if isinstance(error, InvalidDetails):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))
    raise error


DOMAIN_ERRORS = (DocumentNotFound, VersionNotFound, InTrash, NotInTrash, TrashExpired, InvalidDetails)


@router.get("/documents/{document_id}", tags=["documents"], summary="One document")
async def get_document(document_id: DocumentIdPath, account_id: CurrentAccountId, sharing: SharingDep) -> DocumentOut:
    return _document_out(await _visible_or_404(sharing, account_id, document_id))


@router.patch("/documents/{document_id}", tags=["documents"], summary="Rename, re-tag or move to another folder")
async def change_details(
    document_id: DocumentIdPath, body: DetailsIn, account_id: CurrentAccountId, metadata: MetadataDep,
    sharing: SharingDep,
) -> DocumentOut:
    await _owner_only(sharing, account_id, document_id, "rename, move or re-tag")
    try:
        return _document_out(await metadata.update_details(account_id, document_id, name=body.name, tags=body.tags,
                                                           path=body.path))
    except DOMAIN_ERRORS as error:
        raise _domain_errors(error) from error


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["documents"],
               summary="Move to the trash; with permanent=true, delete for good now")
async def delete_document(
    document_id: DocumentIdPath, account_id: CurrentAccountId, metadata: MetadataDep, sharing: SharingDep,
    permanent: bool = False,
) -> Response:
    await _owner_only(sharing, account_id, document_id, "delete")
    try:
        if permanent:
            await metadata.purge_now(account_id, document_id)
        else:
            await metadata.trash(account_id, document_id)
    except DOMAIN_ERRORS as error:
        raise _domain_errors(error) from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/documents/{document_id}/restore", tags=["documents"], summary="Take a document back out of the trash")
async def restore_document(
    document_id: DocumentIdPath, account_id: CurrentAccountId, metadata: MetadataDep
) -> DocumentOut:
    try:
        return _document_out(await metadata.untrash(account_id, document_id))
    except DOMAIN_ERRORS as error:
        raise _domain_errors(error) from error


@router.get("/documents/{document_id}/versions", tags=["documents"], summary="A document's versions, newest first")
async def list_versions(
    document_id: DocumentIdPath, account_id: CurrentAccountId, documents: DocumentsDep, sharing: SharingDep
) -> list[VersionOut]:
    await _visible_or_404(sharing, account_id, document_id)
    return [
        VersionOut(version=v["version"], size=v["size"], sha256=v["sha256"], etag=v["etag"],
                   content_type=v["content_type"], created_at=v["created_at"], restored_from=v.get("restored_from"))
        for v in await documents.versions_of(document_id)
    ]


@router.post("/documents/{document_id}/versions/{version}/restore", tags=["documents"],
             summary="Make an old version current again (a new version, same bytes, no copy)")
async def restore_version(
    document_id: DocumentIdPath, version: VersionPath, account_id: CurrentAccountId, metadata: MetadataDep,
    sharing: SharingDep,
) -> DocumentOut:
    await _owner_only(sharing, account_id, document_id, "restore a version of")
    try:
        return _document_out(await metadata.restore_version(account_id, document_id, version))
    except DOMAIN_ERRORS as error:
        raise _domain_errors(error) from error


@router.get("/documents/{document_id}/download", tags=["documents"], summary="A short-lived signed URL for the bytes")
async def download(
    document_id: DocumentIdPath,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    signer: S3SignerDep,
    settings: SettingsDep,
    sharing: SharingDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> DownloadOut:
    doc = await _visible_or_404(sharing, account_id, document_id)
    stored = await documents.version(document_id, version or doc["current_version"])
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"version {version} not found")
    url = await asyncio.to_thread(
        sign_download, signer, bucket=stored["bucket"], key=stored["key"], filename=doc["name"],
        expires_in=settings.download_url_seconds,
    )
    return DownloadOut(url=url, expires_in=settings.download_url_seconds)


@router.get("/changes", tags=["sync"], summary="The caller's change feed since a cursor, with long-poll")
async def changes(
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    settings: SettingsDep,
    cursor: Annotated[int, Query(ge=0, description="The last seq already seen; 0 for the whole feed")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    wait: Annotated[float, Query(ge=0, le=30, description="Seconds to wait for a change when there is none")] = 0,
) -> ChangesOut:
    """Entries with seq > cursor, oldest first. With `wait`, an empty answer is held until a change
    arrives or the wait ends; the wait polls the changes collection, so a change written by any
    replica wakes it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, settings.changes_wait_max_seconds)
    while True:
        rows = await documents.changes_since(account_id, cursor, limit)
        if rows or loop.time() >= deadline:
            break
        await asyncio.sleep(min(settings.changes_poll_seconds, max(deadline - loop.time(), 0)))
    entries = [ChangeOut.model_validate({k: v for k, v in row.items() if k in ChangeOut.model_fields}) for row in rows]
    return ChangesOut(changes=entries, cursor=entries[-1].seq if entries else cursor)


@router.post("/sync/compare", tags=["sync"], summary="Which of the client's files differ from the server's")
async def sync_compare(body: CompareIn, account_id: CurrentAccountId, documents: DocumentsDep, settings: SettingsDep) -> CompareOut:
    """`path` is folder + name (`/reports/q1.pdf`). Each file is `same`, `server_newer` (the server
    has other bytes: its version and sha256 are given) or `unknown_on_server`; `only_on_server`
    lists live documents the client did not mention."""
    if len(body.files) > settings.compare_max_files:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"at most {settings.compare_max_files} files per request")
    answers, only_server = compare([(f.path, f.sha256) for f in body.files], await documents.live_documents(account_id))
    return CompareOut.model_validate({"files": answers, "only_on_server": only_server})


@router.get("/internal/accounts/{account_id}/documents/{document_id}", tags=["internal"],
            summary="A document the account may write, with its owner and current version (upload asks before "
                    "signing a grant for a new version)")
async def internal_document(
    account_id: AccountIdPath, document_id: DocumentIdPath, sharing: SharingDep, _caller: ServiceCaller
) -> InternalDocumentOut:
    try:
        found = await sharing.visible(account_id, document_id)
    except NoAccess as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "document not found") from error
    if found.access == "view":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "document not found")
    doc = found.document
    return InternalDocumentOut(document_id=doc["_id"], owner_id=doc["account_id"], access=found.access,
                               current_version=doc["current_version"], name=doc["name"],
                               content_type=doc["content_type"], path=doc.get("path", "/"),
                               trashed=bool(doc.get("trashed")))
