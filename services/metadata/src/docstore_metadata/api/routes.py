"""Metadata's HTTP routes: accounts, credentials (internal) and documents.

Refusals are `DomainError`s raised by the use cases; the one handler `service_app` installs
answers them (no try/except here)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery
from docstore_metadata.api.deps import DocumentsDep, FoldersDep, ServicesDep, SettingsDep, SharingDep
from docstore_metadata.api.folders import folder_out
from docstore_metadata.api.schemas import (
    MAX_VERSION,
    AccountIdPath,
    ChangeOut,
    ChangesOut,
    CompareIn,
    CompareOut,
    DetailsIn,
    DocumentIdPath,
    DocumentOut,
    DocumentPage,
    DownloadOut,
    FullTextOut,
    InternalBytesOut,
    InternalDocumentOut,
    PathOut,
    PlacesIn,
    PreviewStateOut,
    TakenOut,
    TakenPlaceOut,
    VersionOut,
    VersionPage,
    VersionPath,
)
from docstore_metadata.domain.documents import SearchCriteria, check_tags
from docstore_metadata.domain.full_text import full_text_of
from docstore_metadata.domain.previews import preview_of
from docstore_metadata.service_layer.documents import Documents

router = APIRouter()


async def _documents_out(documents: Documents, rows: list[dict[str, Any]]) -> list[DocumentOut]:
    """The answers for `rows`, with each document's full-text state (one plan read per owner)."""
    plans = await documents.plans_of({row["account_id"] for row in rows})
    return [_document_out(row, plans.get(row["account_id"])) for row in rows]


async def _document_answer(documents: Documents, doc: dict[str, Any]) -> DocumentOut:
    [answer] = await _documents_out(documents, [doc])
    return answer


def _document_out(doc: dict[str, Any], owner_plan: str | None = None) -> DocumentOut:
    return DocumentOut(
        full_text=FullTextOut(**full_text_of(doc, owner_plan)),
        preview=PreviewStateOut(**preview_of(doc)),
        document_id=doc["_id"],
        name=doc["name"],
        title=doc.get("title"),
        tags=doc.get("tags", []),
        path=doc.get("path", "/"),
        content_type=doc["content_type"],
        size=doc["size"],
        sha256=doc["sha256"],
        version=doc["current_version"],
        created_at=doc["created_at"],
        modified_at=doc["modified_at"],
        trashed=bool(doc.get("trashed")),
        trashed_at=doc.get("trashed_at"),
    )


@router.get("/documents", tags=["documents"], summary="The caller's documents (or trash), sorted, keyset-paginated")
async def list_documents(
    request: Request,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    sort: Literal["modified", "created", "name", "size"] = "modified",
    order: Literal["asc", "desc"] | None = Query(None, description="Default: desc for dates and size, asc for name"),
    path: Annotated[str | None, Query(max_length=1024, description="Only the direct children of this folder")] = None,
    trashed: bool = Query(False, description="true: the trash view"),
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> DocumentPage:
    order = order or ("asc" if sort == "name" else "desc")
    rows, next_cursor = await documents.page(
        account_id, sort=sort, order=order, limit=limit, cursor=cursor, path=path, trashed=trashed
    )
    return DocumentPage.of(request, await _documents_out(documents, rows), next_cursor, limit)


@router.get("/documents/search", tags=["documents"], summary="Search by name, dates, tags and type (every plan)")
async def search_documents(
    request: Request,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_match: Literal["prefix", "substring"] = "prefix",
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    modified_from: datetime | None = None,
    modified_to: datetime | None = None,
    tags: Annotated[str | None, Query(max_length=2048, description="Comma-separated; a document must have all")] = None,
    content_type: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> DocumentPage:
    """Walks one index (name prefix, a name trigram, a tag, the type or a date) and checks the other
    criteria on what it reads. A page may hold fewer than `limit` items while `next_cursor` is set:
    one request reads a bounded number of index rows."""
    criteria = SearchCriteria(
        name=name,
        name_match=name_match,
        created_from=created_from,
        created_to=created_to,
        modified_from=modified_from,
        modified_to=modified_to,
        tags=tuple(check_tags([t for t in tags.split(",") if t.strip()])) if tags else (),
        content_type=content_type.strip().lower() if content_type else None,
    )
    rows, next_cursor = await documents.search(account_id, criteria, limit=limit, cursor=cursor)
    return DocumentPage.of(request, await _documents_out(documents, rows), next_cursor, limit)


@router.get(
    "/paths/at",
    tags=["folders"],
    summary="What lives at a path: the live folder, or the live document (one request for both)",
)
async def what_is_at(
    account_id: CurrentAccountId,
    folders: FoldersDep,
    documents: DocumentsDep,
    path: Annotated[str, Query(min_length=1, max_length=4096)],
) -> PathOut:
    """WebDAV resolves every request's path this way: a name names a folder or a document."""
    folder, document = await folders.what_is_at(account_id, path)
    if folder is not None:
        return PathOut(folder=folder_out(folder))
    assert document is not None
    return PathOut(document=await _document_answer(documents, document))


@router.get("/documents/{document_id}", tags=["documents"], summary="One document")
async def get_document(
    document_id: DocumentIdPath, account_id: CurrentAccountId, documents: DocumentsDep
) -> DocumentOut:
    return await _document_answer(documents, await documents.get(account_id, document_id))


@router.patch(
    "/documents/{document_id}",
    tags=["documents"],
    summary="Rename, re-tag or move to another folder",
    responses=problem_responses(409),
)
async def change_details(
    document_id: DocumentIdPath, body: DetailsIn, account_id: CurrentAccountId, documents: DocumentsDep
) -> DocumentOut:
    return await _document_answer(
        documents,
        await documents.update_details(
            account_id, document_id, name=body.name, tags=body.tags, path=body.path, on_clash=body.on_clash
        ),
    )


@router.delete(
    "/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["documents"],
    summary="Move to the trash; with permanent=true, delete for good now",
)
async def delete_document(
    document_id: DocumentIdPath, account_id: CurrentAccountId, documents: DocumentsDep, permanent: bool = False
) -> Response:
    await documents.delete(account_id, document_id, permanent=permanent)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/documents/{document_id}/restore",
    tags=["documents"],
    summary="Take a document back out of the trash",
    responses=problem_responses(409, 410),
)
async def restore_document(
    document_id: DocumentIdPath, account_id: CurrentAccountId, documents: DocumentsDep
) -> DocumentOut:
    return await _document_answer(documents, await documents.untrash(account_id, document_id))


@router.get("/documents/{document_id}/versions", tags=["documents"], summary="A document's versions, newest first")
async def list_versions(
    request: Request,
    document_id: DocumentIdPath,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> VersionPage:
    rows, next_cursor = await documents.versions(account_id, document_id, cursor=cursor, limit=limit)
    items = [
        VersionOut(
            version=v["version"],
            size=v["size"],
            sha256=v["sha256"],
            etag=v["etag"],
            content_type=v["content_type"],
            created_at=v["created_at"],
            restored_from=v.get("restored_from"),
        )
        for v in rows
    ]
    return VersionPage.of(request, items, next_cursor, limit)


@router.post(
    "/documents/{document_id}/versions/{version}/restore",
    tags=["documents"],
    summary="Make an old version current again (a new version, same bytes, no copy)",
    responses=problem_responses(409),
)
async def restore_version(
    document_id: DocumentIdPath, version: VersionPath, account_id: CurrentAccountId, documents: DocumentsDep
) -> DocumentOut:
    return await _document_answer(documents, await documents.restore_version(account_id, document_id, version))


@router.get("/documents/{document_id}/download", tags=["documents"], summary="A short-lived signed URL for the bytes")
async def download(
    document_id: DocumentIdPath,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    settings: SettingsDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> DownloadOut:
    url = await documents.download_url(account_id, document_id, version, expires_in=settings.download_url_seconds)
    return DownloadOut(url=url, expires_in=settings.download_url_seconds)


@router.get("/changes", tags=["sync"], summary="The caller's change feed since a cursor, with long-poll")
async def changes(
    request: Request,
    account_id: CurrentAccountId,
    documents: DocumentsDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    wait: Annotated[float, Query(ge=0, le=30, description="Seconds to wait for a change when there is none")] = 0,
) -> ChangesOut:
    """Entries after the cursor's position (the whole feed without one), oldest first. A feed has no
    last page: `next_cursor` is always where to go on from. With `wait`, an empty answer is held
    until a change arrives or the wait ends; the wait polls the changes collection, so a change
    written by any replica wakes it."""
    rows, position = await documents.changes(account_id, cursor, limit, wait)
    entries = [ChangeOut.model_validate({k: v for k, v in row.items() if k in ChangeOut.model_fields}) for row in rows]
    return ChangesOut.of(request, entries, position, limit)


@router.post("/sync/compare", tags=["sync"], summary="Which of the client's files differ from the server's")
async def sync_compare(
    body: CompareIn, account_id: CurrentAccountId, documents: DocumentsDep, settings: SettingsDep
) -> CompareOut:
    """`path` is folder + name (`/reports/q1.pdf`). Each file is `same`, `server_newer` (the server
    has other bytes: its version and sha256 are given) or `unknown_on_server`; `only_on_server`
    lists live documents the client did not mention."""
    if len(body.files) > settings.compare_max_files:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"at most {settings.compare_max_files} files per request"
        )
    answers, only_server = await documents.compare(account_id, [(f.path, f.sha256) for f in body.files])
    return CompareOut.model_validate({"files": answers, "only_on_server": only_server})


@router.get(
    "/internal/accounts/{account_id}/documents/{document_id}",
    tags=["internal"],
    summary="A document the account may write, with its owner and current version (upload asks before "
    "signing a grant for a new version)",
)
async def internal_document(
    account_id: AccountIdPath,
    document_id: DocumentIdPath,
    sharing: SharingDep,
    documents: DocumentsDep,
    _caller: ServiceCaller,
) -> InternalDocumentOut:
    found = await sharing.writable(account_id, document_id)
    doc = found.document
    current = await documents.version_object(doc["_id"], doc["current_version"]) or {}
    return InternalDocumentOut(
        current_bucket=current.get("bucket"),
        current_key=current.get("key"),
        current_size=current.get("size"),
        current_sha256=current.get("sha256"),
        document_id=doc["_id"],
        owner_id=doc["account_id"],
        access=found.access,
        current_version=doc["current_version"],
        name=doc["name"],
        content_type=doc["content_type"],
        path=doc.get("path", "/"),
        trashed=bool(doc.get("trashed")),
    )


@router.get(
    "/internal/accounts/{account_id}/bytes/{sha256}",
    tags=["internal"],
    summary="Dedupe: a version of the account's own documents whose bytes have this sha256 (upload asks "
    "before granting an upload that declares one); 404 when the account stores no such bytes",
    responses=problem_responses(404),
)
async def internal_bytes(
    account_id: AccountIdPath,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="Lowercase hex sha256")],
    documents: DocumentsDep,
    _caller: ServiceCaller,
) -> InternalBytesOut:
    # Per account only (see `Documents.stored_bytes`): the path's account is the only one searched.
    found = await documents.stored_bytes(account_id, sha256)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This account stores no such bytes.")
    return InternalBytesOut(
        document_id=found["document_id"],
        version=found["version"],
        bucket=found["bucket"],
        key=found["key"],
        size=found["size"],
        sha256=found["sha256"],
    )


@router.post(
    "/internal/accounts/{account_id}/names/taken",
    tags=["internal"],
    summary="Which (folder, name) places a live document of the account holds (upload asks before "
    "granting a new document: one live document per name in a folder)",
)
async def internal_names_taken(
    account_id: AccountIdPath, body: PlacesIn, documents: DocumentsDep, _caller: ServiceCaller
) -> TakenOut:
    found = await documents.taken(account_id, [(p.path, p.name) for p in body.places])
    return TakenOut(taken=[TakenPlaceOut(path=p, name=n, document_id=d) for (p, n), d in sorted(found.items())])


@router.post(
    "/internal/accounts/{account_id}/access-ended",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["internal"],
    summary="The account was deleted (the accounts service, right after): its links, shares and follows "
    "end now, as they do again, idempotently, when `account.deleted` arrives",
)
async def internal_access_ended(account_id: AccountIdPath, services: ServicesDep, _caller: ServiceCaller) -> Response:
    """Nothing happens unless the accounts service confirms the deletion (any caller is harmless)."""
    await services.account_purge.end_access_now(account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
