"""Upload sessions in MongoDB (`upload_sessions`), bound to one transaction's session or none."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from docstore_messaging.in_slices import find_in
from docstore_upload.domain.consistency import completed_event_id
from docstore_upload.domain.grants import STAGING_PREFIX, Grant
from docstore_upload.domain.sessions import COMPLETED, PENDING, Session

LATE_WRITE_MARGIN = timedelta(seconds=60)
"""After a form expires, how long before its staging key is checked once more (S3 clocks may lag)."""


class UploadSessions:
    """The sessions, read and written inside `session`'s transaction (None: outside any)."""

    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db["upload_sessions"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("next_check_at", 1)])
        # Every write of a session rewrites each of its index entries; lookups by id and actor
        # go by `_id`, so the (actor_id, _id) index of earlier versions only cost writes.
        with contextlib.suppress(OperationFailure):  # absent: nothing to drop
            await self.collection.drop_index("actor_id_1__id_1")
        await self.collection.create_index([("key", 1)])  # bucket notifications name the object key
        await self.collection.create_index([("staging_key", 1)])
        await self.collection.create_index([("late_check_at", 1)])
        await self.collection.create_index([("chunks_check_at", 1)])
        await self.collection.create_index([("account_id", 1), ("stored.sha256", 1)])  # `completed_sha256s`

    async def add(self, grant: Grant, **extra: Any) -> None:
        row = asdict(grant)
        row["_id"] = row.pop("upload_id")
        now = datetime.now(UTC)
        await self.collection.insert_one(
            {**row, **extra, "status": PENDING, "created_at": now, "next_check_at": now}, session=self.session
        )

    async def add_many(self, grants: list[tuple[Grant, dict[str, Any]]]) -> None:
        """`add` for many grants in one round trip (each with its extra fields)."""
        now = datetime.now(UTC)
        rows = []
        for grant, extra in grants:
            row = asdict(grant)
            row["_id"] = row.pop("upload_id")
            rows.append({**row, "status": PENDING, "created_at": now, "next_check_at": now, **extra})
        if rows:
            await self.collection.insert_many(rows, session=self.session)

    async def completed_sha256s(self, account_id: str, sha256s: list[str]) -> set[str]:
        """Which of `sha256s` an upload completed into `account_id`'s documents has stored: one
        indexed query (dedupe asks metadata only about these).

        The filter is exactly the (account_id, stored.sha256) index and the status is checked
        here: with a third field in the filter SecantusDB looks up the account alone and matches
        the whole list against every upload the account ever made."""
        found = find_in(
            self.collection,
            "stored.sha256",
            sha256s,
            where={"account_id": account_id},
            projection={"stored.sha256": 1, "status": 1, "_id": 0},
            session=self.session,
        )
        return {row["stored"]["sha256"] async for row in found if row["status"] == COMPLETED}

    async def get_many(self, actor_id: str, upload_ids: list[str]) -> dict[str, Session]:
        """The uploads among `upload_ids` that `actor_id` asked for (as `get`), by id: ids of other
        accounts are simply not found."""
        found = find_in(self.collection, "_id", upload_ids, where={"actor_id": actor_id}, session=self.session)
        return {row["_id"]: row async for row in found}

    async def complete_many(self, facts: dict[str, tuple[Session, dict[str, Any]]]) -> list[str]:
        """Move the still pending ones of these sessions to completed, each with its stored facts
        (`{upload id: (session, facts)}`); the ids that changed. Inside a transaction the read and
        the writes see one snapshot: a concurrent completion of the same upload makes the
        transaction conflict and run again, so an id is returned by exactly one completion."""
        if not facts:
            return []
        now = datetime.now(UTC)
        pending = [
            row["_id"]
            async for row in find_in(
                self.collection, "_id", facts, where={"status": PENDING}, projection={"_id": 1}, session=self.session
            )
        ]
        updates = []
        for upload_id in pending:
            row, stored = facts[upload_id]
            fields: dict[str, Any] = {
                "status": COMPLETED,
                "finished_at": now,
                "stored": stored,
                "completed_event_id": completed_event_id(upload_id),  # the id its event goes out under
            }
            if row.get("staging_key"):  # (a completed pinned upload's key holds its version)
                fields["late_check_at"] = max(row["expires_at"], now) + LATE_WRITE_MARGIN
            updates.append(UpdateOne({"_id": upload_id, "status": PENDING}, {"$set": fields}))
        if updates:
            result = await self.collection.bulk_write(updates, ordered=False, session=self.session)
            if result.modified_count != len(updates):
                raise RuntimeError("upload sessions changed under a batch completion; it runs again")
        return pending

    async def get(self, actor_id: str, upload_id: str) -> Session | None:
        """The upload if `actor_id` asked for it (the owner, or an editor of a shared document)."""
        return await self.collection.find_one({"_id": upload_id, "actor_id": actor_id}, session=self.session)

    async def pending_of(self, account_id: str) -> list[Session]:
        """The account's pending uploads: to its documents, and those it asked for as an editor
        (two plain lookups, by the owner's `account_id` and the status index: `$or` scans on SecantusDB)."""
        owned = self.collection.find({"account_id": account_id, "status": PENDING}, session=self.session)
        asked = self.collection.find({"status": PENDING, "actor_id": account_id}, session=self.session)
        rows = {row["_id"]: row for row in await owned.to_list(None)}
        rows.update({row["_id"]: row for row in await asked.to_list(None)})
        return list(rows.values())

    async def by_id(self, upload_id: str) -> Session | None:
        return await self.collection.find_one({"_id": upload_id}, session=self.session)

    async def by_key(self, key: str) -> Session | None:
        """The upload whose object is stored under `key`, its final or its staging key (each
        upload has keys of its own). One plain lookup: `$or` scans on SecantusDB."""
        # Staging keys, and only they, start with STAGING_PREFIX: one lookup each.
        field = "staging_key" if key.startswith(STAGING_PREFIX) else "key"
        return await self.collection.find_one({field: key}, session=self.session)

    async def finish(self, upload_id: str, status: str, **fields: Any) -> bool:
        """Move a pending session to `status`; False when it was not pending any more.

        A form upload's staging key (a pinned form's own key, when the upload ends without a
        version) stays writable until its form expires: the watcher looks there once more after
        that (`claim_late_check`) for a write that came too late."""
        now = datetime.now(UTC)
        row = await self.collection.find_one(
            {"_id": upload_id}, {"staging_key": 1, "pinned_sha256": 1, "expires_at": 1}, session=self.session
        )
        if row and (row.get("staging_key") or (row.get("pinned_sha256") and status != COMPLETED)):
            fields = {"late_check_at": max(row["expires_at"], now) + LATE_WRITE_MARGIN, **fields}
        result = await self.collection.update_one(
            {"_id": upload_id, "status": PENDING},
            {"$set": {"status": status, "finished_at": now, **fields}},
            session=self.session,
        )
        return result.modified_count == 1

    async def claim_late_check(self) -> Session | None:
        """One finished form upload whose form has expired: the key its form wrote is looked at once more."""
        return await self.collection.find_one_and_update(
            {"late_check_at": {"$lte": datetime.now(UTC)}},
            {"$unset": {"late_check_at": ""}},
            sort=[("late_check_at", 1)],
            session=self.session,
        )

    async def claim_chunk_map_check(self, now: datetime, every: timedelta) -> Session | None:
        """One upload whose kept chunk map is due for a look at its object; its next look moves
        `every` on (so each map is looked at once per period, by one watcher)."""
        return await self.collection.find_one_and_update(
            {"chunks_check_at": {"$lte": now}},
            {"$set": {"chunks_check_at": now + every}},
            sort=[("chunks_check_at", 1)],
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def drop_chunk_map(self, upload_id: str) -> None:
        """Forget an upload's chunk map (its object is gone: no delta is planned against it)."""
        await self.collection.update_one(
            {"_id": upload_id},
            {"$unset": {"chunks": "", "chunks_verified": "", "chunks_check_at": ""}},
            session=self.session,
        )

    async def mark_joined(self, upload_id: str, verify_lease: timedelta) -> Session | None:
        """Note that this process has S3 join a multipart upload's parts and reads its facts back.

        The watcher and S3's notification of the join leave the session alone for `verify_lease`
        (whoever joined it is reading it), then the watcher takes over if it is still pending: that
        is how a crash mid-check (or before the join) is recovered.
        """
        now = datetime.now(UTC)
        return await self.collection.find_one_and_update(
            {"_id": upload_id, "status": PENDING},
            {"$set": {"joined_at": now, "next_check_at": now + verify_lease}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def claim_due(self, lease: timedelta) -> Session | None:
        """One pending session due for a check, leased so no other watcher checks it meanwhile."""
        now = datetime.now(UTC)
        return await self.collection.find_one_and_update(
            {"status": PENDING, "next_check_at": {"$lte": now}},
            {"$set": {"next_check_at": now + lease}},
            sort=[("next_check_at", 1)],
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
