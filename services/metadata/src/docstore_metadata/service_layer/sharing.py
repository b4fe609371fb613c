"""Sharing use cases: share and unshare (owner only), follow and unfollow, and who sees what.

Who may see a document is a pure rule (`domain/sharing.py`); this module reads the document and
the caller's share and applies it. Every change runs in one transaction with its event.
"""

from __future__ import annotations

from typing import Any

from docstore_events import ShareCreated
from docstore_events.activity import ShareRevoked
from docstore_events.notifications import FileFollowed, FileUnfollowed
from docstore_kit.pagination import cursor_offset, offset_cursor
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.domain.identity import normalise_username, require_verified_email
from docstore_metadata.domain.sharing import (
    SharedWithOwner,
    Visible,
    access_to,
    grantee_here,
    owner_only,
    writable,
)
from docstore_metadata.service_layer.people import People

Tx = Transaction[Repositories]


async def visible(repos: Repositories, account_id: str, document_id: str) -> Visible:
    """The document and the caller's access to it; `NoAccess` (404) when they have none."""
    document = await repos.documents.get(document_id)
    share = None
    if document is not None and document["account_id"] != account_id:
        share = await repos.sharing.share_of(document_id, account_id)
    return access_to(document, share, account_id, document_id)


async def owned(repos: Repositories, account_id: str, document_id: str, action: str) -> dict[str, Any]:
    """The caller's own document; `OwnerOnly` (403, "Only the owner of this document can {action}.") for
    someone it is shared with, `NoAccess` (404) for anyone else."""
    return dict(owner_only(await visible(repos, account_id, document_id), action))


class Sharing:
    def __init__(self, uow: UnitOfWork[Repositories], reads: Repositories, *, region: str = "") -> None:
        """`reads`: repositories outside any transaction; `region`: this region (a grantee must be
        at home here, `domain.sharing.grantee_here`)."""
        self.uow = uow
        self.reads = reads
        self.region = region
        self.people = People(reads, region=region)
        """Finding a person to share with (`domain/people.py`)."""

    async def visible(self, account_id: str, document_id: str) -> Visible:
        return await visible(self.reads, account_id, document_id)

    async def writable(self, account_id: str, document_id: str) -> Visible:
        """For upload: the document if the caller owns it or may edit it; 404 otherwise."""
        return writable(await self.visible(account_id, document_id))

    async def share(self, owner_id: str, document_id: str, username: str, permission: str) -> dict[str, Any]:
        document = await owned(self.reads, owner_id, document_id, "share it")
        owner = await self.reads.owners.by_id(owner_id)
        require_verified_email(owner, "share documents")
        grantee = grantee_here(await self.reads.owners.by_username(normalise_username(username)), username, self.region)
        if grantee["_id"] == owner_id:
            raise SharedWithOwner()

        async def work(tx: Tx) -> None:
            # View-only now: the links this editor made give nothing from here on (the links
            # service asks at each use, `POST /internal/links/access`).
            if await tx.repos.sharing.share(document_id, owner_id, grantee["_id"], permission):
                tx.emit(
                    ShareCreated(
                        account_id=owner_id,
                        document_id=document_id,
                        grantee_id=grantee["_id"],
                        permission=permission,
                        document_name=str(document.get("name") or ""),
                        owner_username=str((owner or {}).get("username") or ""),
                    )
                )

        await self.uow.run(work)
        return {
            "grantee_id": grantee["_id"],
            "username": grantee["username"],
            "permission": permission,
            "document_id": document["_id"],
        }

    async def shares_of(
        self, owner_id: str, document_id: str, *, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the shares of the caller's own document, and the next page's cursor."""
        skip = cursor_offset(cursor)
        await owned(self.reads, owner_id, document_id, "see its shares")
        rows = await self.reads.sharing.shares_of(document_id, skip, limit + 1)
        return rows[:limit], offset_cursor(skip + limit) if len(rows) > limit else None

    async def unshare(self, owner_id: str, document_id: str, grantee_id: str) -> None:
        await owned(self.reads, owner_id, document_id, "stop sharing it")

        async def work(tx: Tx) -> None:
            share = await tx.repos.sharing.share_of(document_id, grantee_id)
            if await tx.repos.sharing.unshare(document_id, grantee_id):
                permission = str((share or {}).get("permission", ""))
                tx.emit(
                    ShareRevoked(
                        account_id=owner_id, document_id=document_id, grantee_id=grantee_id, permission=permission
                    )
                )
            # Losing access ends the follow too.
            if await tx.repos.sharing.unfollow(document_id, grantee_id):
                tx.emit(FileUnfollowed(account_id=grantee_id, document_id=document_id, owner_id=owner_id))

        await self.uow.run(work)

    async def shared_with(
        self, account_id: str, *, cursor: str | None, limit: int
    ) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], str | None]:
        """(share, document) of the live documents shared with the caller, newest share first, one
        page of `limit` shares read, and the next page's cursor. Shares of trashed documents are
        read and left out, so a page may hold fewer than `limit` while a next page exists."""
        skip = cursor_offset(cursor)
        rows = await self.reads.sharing.shared_with(account_id, skip, limit + 1)
        out = []
        for row in rows[:limit]:
            document = await self.reads.documents.get(row["document_id"])
            if document is not None and not document.get("trashed"):
                out.append((row, document))
        return out, offset_cursor(skip + limit) if len(rows) > limit else None

    async def usernames(self, account_ids: set[str]) -> dict[str, str]:
        """The username of each of these accounts that metadata knows (its projection of accounts):
        who shared a document, who it is shared with. An account nobody knows is left out."""
        out = {}
        for account_id in account_ids:
            account = await self.reads.owners.by_id(account_id)
            if account is not None and account.get("username"):
                out[account_id] = str(account["username"])
        return out

    async def follow(self, account_id: str, document_id: str) -> None:
        found = await self.visible(account_id, document_id)
        owner_id = found.document["account_id"]

        async def work(tx: Tx) -> None:
            if await tx.repos.sharing.follow(document_id, owner_id, account_id):
                tx.emit(FileFollowed(account_id=account_id, document_id=document_id, owner_id=owner_id))

        await self.uow.run(work)

    async def unfollow(self, account_id: str, document_id: str) -> None:
        document = await self.reads.documents.get(document_id)
        owner_id = document["account_id"] if document else ""

        async def work(tx: Tx) -> None:
            if await tx.repos.sharing.unfollow(document_id, account_id):
                tx.emit(FileUnfollowed(account_id=account_id, document_id=document_id, owner_id=owner_id))

        await self.uow.run(work)

    async def follows_of(
        self, account_id: str, *, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the caller's follows, newest first, and the next page's cursor."""
        skip = cursor_offset(cursor)
        rows = await self.reads.sharing.follows_of(account_id, skip, limit + 1)
        return rows[:limit], offset_cursor(skip + limit) if len(rows) > limit else None
