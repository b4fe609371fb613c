"""Routes for sharing documents with other accounts and following documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery
from docstore_metadata.api.deps import SharingDep
from docstore_metadata.api.schemas import (
    AccountIdPath,
    DocumentIdPath,
    FollowOut,
    FollowPage,
    PeopleOut,
    PersonOut,
    PreviewStateOut,
    SharedDocumentOut,
    SharedPage,
    ShareIn,
    ShareOut,
    SharePage,
)
from docstore_metadata.domain.previews import preview_of

Limit = Annotated[int, Query(ge=1, le=200)]

router = APIRouter(tags=["sharing"])


@router.post(
    "/documents/{document_id}/shares",
    status_code=status.HTTP_201_CREATED,
    summary="Share a document with another account (view, or edit: upload new versions)",
)
async def share(
    document_id: DocumentIdPath, body: ShareIn, account_id: CurrentAccountId, sharing: SharingDep
) -> ShareOut:
    return ShareOut.model_validate(await sharing.share(account_id, document_id, body.username, body.permission))


@router.get("/documents/{document_id}/shares", summary="Who a document is shared with (owner only)")
async def shares(
    request: Request,
    document_id: DocumentIdPath,
    account_id: CurrentAccountId,
    sharing: SharingDep,
    limit: Limit = 50,
    cursor: CursorQuery = None,
) -> SharePage:
    rows, next_cursor = await sharing.shares_of(account_id, document_id, cursor=cursor, limit=limit)
    names = await sharing.usernames({row["grantee_id"] for row in rows})
    items = [
        ShareOut(
            document_id=row["document_id"],
            grantee_id=row["grantee_id"],
            username=names.get(row["grantee_id"]),
            permission=row["permission"],
        )
        for row in rows
    ]
    return SharePage.of(request, items, next_cursor, limit)


@router.delete(
    "/documents/{document_id}/shares/{grantee_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop sharing a document with an account",
)
async def unshare(
    document_id: DocumentIdPath, grantee_id: AccountIdPath, account_id: CurrentAccountId, sharing: SharingDep
) -> Response:
    await sharing.unshare(account_id, document_id, grantee_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/people",
    summary="Find a person to share with: an exact username or verified e-mail address, or people you already "
    "share with by prefix",
    responses=problem_responses(422, 429),
)
async def people(
    account_id: CurrentAccountId,
    sharing: SharingDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=254,
            description="what was typed: a username or its start (at most 64 characters), or a whole e-mail address",
        ),
    ],
) -> PeopleOut:
    """Suggestions never reach beyond the people the caller already shares with (either way) and
    the one account named exactly, by username or by the address it verified (answered by username);
    at most 60 lookups a minute (429 with `Retry-After` beyond)."""
    found = await sharing.people.lookup(account_id, q)
    return PeopleOut(people=[PersonOut.model_validate(row) for row in found])


@router.get("/shared", summary="Documents other accounts share with the caller")
async def shared_with_me(
    request: Request, account_id: CurrentAccountId, sharing: SharingDep, limit: Limit = 50, cursor: CursorQuery = None
) -> SharedPage:
    """A page may hold fewer than `limit` documents while `next_cursor` is set: shares of documents
    in their owner's trash are read and left out."""
    found, next_cursor = await sharing.shared_with(account_id, cursor=cursor, limit=limit)
    names = await sharing.usernames({document["account_id"] for _, document in found})
    items = [
        SharedDocumentOut(
            document_id=document["_id"],
            owner_id=document["account_id"],
            owner_username=names.get(document["account_id"]),
            permission=row["permission"],
            name=document["name"],
            version=document["current_version"],
            size=document["size"],
            content_type=document["content_type"],
            modified_at=document["modified_at"],
            preview=PreviewStateOut(**preview_of(document)),
        )
        for row, document in found
    ]
    return SharedPage.of(request, items, next_cursor, limit)


@router.put(
    "/documents/{document_id}/follow",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Follow a document: mail when someone else changes it",
)
async def follow(document_id: DocumentIdPath, account_id: CurrentAccountId, sharing: SharingDep) -> Response:
    await sharing.follow(account_id, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/documents/{document_id}/follow", status_code=status.HTTP_204_NO_CONTENT, summary="Stop following")
async def unfollow(document_id: DocumentIdPath, account_id: CurrentAccountId, sharing: SharingDep) -> Response:
    await sharing.unfollow(account_id, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/account/follows", summary="The documents the caller follows")
async def my_follows(
    request: Request, account_id: CurrentAccountId, sharing: SharingDep, limit: Limit = 50, cursor: CursorQuery = None
) -> FollowPage:
    rows, next_cursor = await sharing.follows_of(account_id, cursor=cursor, limit=limit)
    items = [
        FollowOut(document_id=row["document_id"], owner_id=row["owner_id"], created_at=row["created_at"])
        for row in rows
    ]
    return FollowPage.of(request, items, next_cursor, limit)
