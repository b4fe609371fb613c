"""Folder routes: create, list (a folder's sub-folders, or the trash's), rename/move, trash and
restore (README "Folders"). Refusals are `DomainError`s answered by the one handler."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery
from docstore_metadata.api.deps import FoldersDep
from docstore_metadata.api.schemas import FolderChangeIn, FolderIdPath, FolderIn, FolderOut, FolderPage

router = APIRouter(tags=["folders"])


def folder_out(row: dict[str, Any]) -> FolderOut:
    return FolderOut(
        folder_id=row["_id"],
        path=row["path"],
        parent=row["parent"],
        name=row["name"],
        created_at=row["created_at"],
        trashed=row["trashed"],
        trashed_at=row.get("trashed_at"),
        moving=bool(row.get("moving")),
    )


@router.post(
    "/folders",
    status_code=status.HTTP_201_CREATED,
    summary="Create an empty folder (its parents too, when missing)",
    responses=problem_responses(409),
)
async def create_folder(body: FolderIn, account_id: CurrentAccountId, folders: FoldersDep) -> FolderOut:
    return folder_out(await folders.create(account_id, body.parent, body.name))


@router.get("/folders", summary="A folder's sub-folders by name (empty ones too), or the trashed folders")
async def list_folders(
    request: Request,
    account_id: CurrentAccountId,
    folders: FoldersDep,
    path: Annotated[str, Query(max_length=4096, description="The folder whose sub-folders to list")] = "/",
    trashed: bool = Query(False, description="true: the folders in the trash (each as it was trashed)"),
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> FolderPage:
    rows, next_cursor = await folders.children(account_id, path, trashed=trashed, cursor=cursor, limit=limit)
    return FolderPage.of(request, [folder_out(r) for r in rows], next_cursor, limit)


@router.get("/folders/at", summary="The live folder at a path")
async def folder_at(
    account_id: CurrentAccountId,
    folders: FoldersDep,
    path: Annotated[str, Query(min_length=1, max_length=4096)],
) -> FolderOut:
    return folder_out(await folders.at(account_id, path))


@router.get("/folders/{folder_id}", summary="One folder")
async def get_folder(folder_id: FolderIdPath, account_id: CurrentAccountId, folders: FoldersDep) -> FolderOut:
    return folder_out(await folders.get(account_id, folder_id))


@router.patch(
    "/folders/{folder_id}",
    summary="Rename a folder or move it into another, with everything inside (one request)",
    responses=problem_responses(409),
)
async def change_folder(
    folder_id: FolderIdPath, body: FolderChangeIn, account_id: CurrentAccountId, folders: FoldersDep
) -> FolderOut:
    """The folder is where it was asked to be when this answers; its documents follow in short
    batches, and the answer says `moving: true` if they were still being moved when it was sent."""
    moved = await folders.move(account_id, folder_id, name=body.name, parent=body.parent, on_clash=body.on_clash)
    return folder_out(moved)


@router.delete(
    "/folders/{folder_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Move a folder, with everything inside, to the trash",
    responses=problem_responses(409),
)
async def trash_folder(folder_id: FolderIdPath, account_id: CurrentAccountId, folders: FoldersDep) -> Response:
    await folders.trash(account_id, folder_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/folders/{folder_id}/restore",
    summary="Take a folder, and what went to the trash with it, back out of the trash",
    responses=problem_responses(409, 410),
)
async def restore_folder(folder_id: FolderIdPath, account_id: CurrentAccountId, folders: FoldersDep) -> FolderOut:
    return folder_out(await folders.restore(account_id, folder_id))
