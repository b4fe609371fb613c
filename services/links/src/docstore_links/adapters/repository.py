"""Public share links (`share_links`) and each document's link policy (`link_policies`), in MongoDB.

A link is found by the SHA-256 of its token (`token_digest`, unique index); the token is never
stored. Every change is one conditional update, so two requests (or two sweepers) racing on one
link cannot both count a download or both announce an expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Session = AsyncClientSession | None
Doc = dict[str, Any]


class LinkRepository:
    """Bound to one session (None: outside any transaction), like every repository here."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.links = db["share_links"]
        self.policies = db["link_policies"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.links.create_index("token_digest", unique=True)
        await self.links.create_index([("document_id", 1), ("created_at", -1)])
        await self.links.create_index([("owner_id", 1), ("created_at", -1)])
        await self.links.create_index([("created_by", 1), ("created_at", -1)])
        # The sweeper's two scans: live links by expiry, and whether each moment was announced.
        await self.links.create_index([("revoked_at", 1), ("expiry_reminded", 1), ("expires_at", 1)])
        await self.links.create_index([("revoked_at", 1), ("expired_announced", 1), ("expires_at", 1)])

    async def add(self, link: Doc) -> None:
        await self.links.insert_one(dict(link), session=self.session)

    async def get(self, link_id: str) -> Doc | None:
        return await self.links.find_one({"_id": link_id}, session=self.session)

    async def by_digest(self, digest: str) -> Doc | None:
        return await self.links.find_one({"token_digest": digest}, session=self.session)

    async def of_document(self, document_id: str, skip: int, limit: int) -> list[Doc]:
        """One page of a document's links, newest first (`_id` breaks ties)."""
        return (
            await self.links.find({"document_id": document_id}, session=self.session)
            .sort([("created_at", -1), ("_id", -1)])
            .skip(skip)
            .limit(limit)
            .to_list(None)
        )

    async def of_account(self, account_id: str, skip: int, limit: int) -> list[Doc]:
        """One page of the links on the account's documents or created by it, newest first.

        Two index ranges merged here rather than one `$or` query (SecantusDB serves no `$or` from
        an index): each side reads at most `skip + limit` rows."""
        window = skip + limit
        owned = await self._newest({"owner_id": account_id}, window)
        created = await self._newest({"created_by": account_id, "owner_id": {"$ne": account_id}}, window)
        merged = sorted([*owned, *created], key=lambda row: (row["created_at"], row["_id"]), reverse=True)
        return merged[skip:window]

    async def _newest(self, query: Doc, limit: int) -> list[Doc]:
        return (
            await self.links.find(query, session=self.session)
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit)
            .to_list(None)
        )

    async def count_use(self, link_id: str, *, limited: bool, now: datetime) -> Doc | None:
        """Count one download, atomically, if the link is still live: unrevoked, unexpired and,
        when `limited`, with a use left. The link after the count; None when another use took the
        last one (or it was revoked or expired) meanwhile."""
        query: Doc = {"_id": link_id, "revoked_at": None, "expires_at": {"$gt": now}}
        update: Doc = {"$inc": {"downloads": 1}, "$set": {"last_used_at": now}}
        if limited:
            query["downloads_left"] = {"$gt": 0}
            update["$inc"]["downloads_left"] = -1
        return await self.links.find_one_and_update(
            query, update, return_document=ReturnDocument.AFTER, session=self.session
        )

    async def revoke(self, link_id: str, *, reason: str, now: datetime) -> bool:
        """Revoke a link not revoked yet; True when this call did."""
        result = await self.links.update_one(
            {"_id": link_id, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
            session=self.session,
        )
        return result.modified_count == 1

    async def live_of_document(self, document_id: str) -> list[Doc]:
        """The document's links not revoked yet (expired and used-up ones included: they die too)."""
        return await self.links.find({"document_id": document_id, "revoked_at": None}, session=self.session).to_list(
            None
        )

    async def live_made_by(self, created_by: str, document_id: str | None = None) -> list[Doc]:
        """The links `created_by` made (on `document_id`, or on any document) not revoked yet."""
        query: Doc = {"created_by": created_by, "revoked_at": None}
        if document_id is not None:
            query["document_id"] = document_id
        return await self.links.find(query, session=self.session).to_list(None)

    async def live_of_owner(self, owner_id: str) -> list[Doc]:
        """The links to `owner_id`'s documents not revoked yet, whoever made them."""
        return await self.links.find({"owner_id": owner_id, "revoked_at": None}, session=self.session).to_list(None)

    async def extend(self, link_id: str, *, expires_at: datetime, remind_again: bool) -> bool:
        changes: Doc = {"expires_at": expires_at, "expired_announced": False}
        if remind_again:
            changes["expiry_reminded"] = False
        result = await self.links.update_one(
            {"_id": link_id, "revoked_at": None}, {"$set": changes}, session=self.session
        )
        return result.modified_count == 1

    # --- the sweeper --------------------------------------------------------------------------

    async def nearing_expiry(self, now: datetime, until: datetime, limit: int) -> list[Doc]:
        """Live links expiring in (now, until] that were not reminded of yet."""
        return (
            await self.links.find(
                {"revoked_at": None, "expiry_reminded": False, "expires_at": {"$gt": now, "$lt": until}},
                session=self.session,
            )
            .limit(limit)
            .to_list(None)
        )

    async def past_expiry(self, now: datetime, limit: int) -> list[Doc]:
        """Unrevoked links whose expiry passed and was not announced yet."""
        return (
            await self.links.find(
                {"revoked_at": None, "expired_announced": False, "expires_at": {"$lt": now}}, session=self.session
            )
            .limit(limit)
            .to_list(None)
        )

    async def mark(self, link_id: str, flag: str, expires_at: datetime) -> bool:
        """Set `flag` (`expiry_reminded`, `expired_announced`) if unset and the expiry is still the
        one the sweeper saw; True when this call set it (only then is the event emitted)."""
        result = await self.links.update_one(
            {"_id": link_id, "revoked_at": None, flag: False, "expires_at": expires_at},
            {"$set": {flag: True}},
            session=self.session,
        )
        return result.modified_count == 1

    # --- policies ---------------------------------------------------------------------------

    async def policy(self, document_id: str) -> Doc:
        found = await self.policies.find_one({"_id": document_id}, session=self.session)
        return found or {"_id": document_id, "editors_may_create_links": False}

    async def set_policy(self, document_id: str, owner_id: str, *, editors_may_create_links: bool) -> None:
        await self.policies.update_one(
            {"_id": document_id},
            {
                "$set": {
                    "editors_may_create_links": editors_may_create_links,
                    "owner_id": owner_id,
                    "updated_at": datetime.now(UTC),
                }
            },
            upsert=True,
            session=self.session,
        )
