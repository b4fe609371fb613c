"""Sharing and following: who may see, edit or follow a document besides its owner.

Access is `owner`, `edit` (may upload new versions, which count toward the owner's quota)
or `view` (may list versions, download and follow). Only the owner renames, deletes,
restores or shares; others who can see the document get 403 for those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pymongo.asynchronous.client_session import AsyncClientSession

from docstore_events import ShareCreated
from docstore_events.notifications import FileFollowed, FileUnfollowed
from docstore_events.runtime import EventRuntime
from docstore_metadata.adapters.repositories import AccountRepository, DocumentRepository
from docstore_metadata.adapters.sharing import SharingRepository
from docstore_metadata.domain.accounts import normalise_username

Access = Literal["owner", "edit", "view"]
PERMISSIONS = ("view", "edit")


class NoAccess(Exception):
    """The document does not exist, or the caller may not see it (both answer 404)."""


class OwnerOnly(Exception):
    """The caller can see the document but only its owner may do this (403)."""


class UnknownUser(Exception):
    """Sharing with a username nobody has."""


@dataclass(frozen=True)
class Visible:
    document: dict[str, Any]
    access: Access


class Sharing:
    def __init__(
        self, events: EventRuntime, sharing: SharingRepository, accounts: AccountRepository, documents: DocumentRepository
    ) -> None:
        self.events = events
        self.repository = sharing
        self.accounts = accounts
        self.documents = documents

    async def visible(self, account_id: str, document_id: str) -> Visible:
        """The document and the caller's access to it; `NoAccess` when they have none."""
        document = await self.documents.get(document_id)
        if document is None:
            raise NoAccess(document_id)
        if document["account_id"] == account_id:
            return Visible(document, "owner")
        share = await self.repository.share_of(document_id, account_id)
        if share is None or document.get("trashed"):
            raise NoAccess(document_id)
        return Visible(document, share["permission"])

    async def owned(self, account_id: str, document_id: str) -> dict[str, Any]:
        """The caller's own document; 403 for someone it is shared with, 404 for anyone else."""
        found = await self.visible(account_id, document_id)
        if found.access != "owner":
            raise OwnerOnly(document_id)
        return found.document

    async def share(self, owner_id: str, document_id: str, username: str, permission: str) -> dict[str, Any]:
        document = await self.owned(owner_id, document_id)
        grantee = await self.accounts.by_username(normalise_username(username))
        if grantee is None:
            raise UnknownUser(username)
        if grantee["_id"] == owner_id:
            raise ValueError("you own this document already")

        async def write(session: AsyncClientSession) -> None:
            if await self.repository.share(document_id, owner_id, grantee["_id"], permission, session):
                await self.events.outbox.add(
                    ShareCreated(account_id=owner_id, document_id=document_id, grantee_id=grantee["_id"],
                                 permission=permission),
                    session=session,
                )

        await self.events.transaction(write)
        return {"grantee_id": grantee["_id"], "username": grantee["username"], "permission": permission,
                "document_id": document["_id"]}

    async def unshare(self, owner_id: str, document_id: str, grantee_id: str) -> None:
        await self.owned(owner_id, document_id)

        async def write(session: AsyncClientSession) -> None:
            await self.repository.unshare(document_id, grantee_id, session)
            # Losing access ends the follow too.
            if await self.repository.unfollow(document_id, grantee_id, session):
                await self.events.outbox.add(
                    FileUnfollowed(account_id=grantee_id, document_id=document_id, owner_id=owner_id), session=session
                )

        await self.events.transaction(write)

    async def follow(self, account_id: str, document_id: str) -> None:
        found = await self.visible(account_id, document_id)
        owner_id = found.document["account_id"]

        async def write(session: AsyncClientSession) -> None:
            if await self.repository.follow(document_id, owner_id, account_id, session):
                await self.events.outbox.add(
                    FileFollowed(account_id=account_id, document_id=document_id, owner_id=owner_id), session=session
                )

        await self.events.transaction(write)

    async def unfollow(self, account_id: str, document_id: str) -> None:
        document = await self.documents.get(document_id)
        owner_id = document["account_id"] if document else ""

        async def write(session: AsyncClientSession) -> None:
            if await self.repository.unfollow(document_id, account_id, session):
                await self.events.outbox.add(
                    FileUnfollowed(account_id=account_id, document_id=document_id, owner_id=owner_id), session=session
                )

        await self.events.transaction(write)
