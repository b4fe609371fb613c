"""MongoDB collections of folders: `folders` (one row per folder, `domain/folders.py`) and
`folder_jobs` (a folder move, trash or restore whose documents are still being rewritten), and
the document reads and writes those jobs need, bound to one session like every repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_metadata.domain.folders import ROOT, ancestors, below_range, folder_row

Session = AsyncClientSession | None
Doc = dict[str, Any]


class FolderRepository:
    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.folders = db["folders"]
        self.jobs = db["folder_jobs"]
        self.documents = db["documents"]
        self.session = session

    async def ensure_indexes(self) -> None:
        # A folder's sub-folders, one page at a time (live, or the trash's top folders).
        await self.folders.create_index([("account_id", 1), ("trashed", 1), ("parent", 1), ("sort_key", 1)])
        # A folder by its path; a subtree as a path range.
        await self.folders.create_index([("account_id", 1), ("path", 1)])
        await self.folders.create_index([("account_id", 1), ("trashed_with", 1)])
        # Documents that went to the trash with a folder come back with it.
        await self.documents.create_index([("account_id", 1), ("trashed_with", 1)], sparse=True)
        await self.jobs.create_index([("claimed_at", 1)])
        # The trash purge: folders trashed before a cutoff.
        await self.folders.create_index([("trashed", 1), ("trashed_at", 1)])

    # --- folders -----------------------------------------------------------------------

    async def get(self, account_id: str, folder_id: str) -> Doc | None:
        """The folder if `account_id` owns it; None otherwise (absent or someone else's)."""
        return await self.folders.find_one({"_id": folder_id, "account_id": account_id}, session=self.session)

    async def live_at(self, account_id: str, paths: Sequence[str]) -> dict[str, Doc]:
        """The live folders at these paths, by path."""
        if not paths:
            return {}
        rows = self.folders.find(
            {"account_id": account_id, "path": {"$in": sorted(set(paths))}, "trashed": False}, session=self.session
        )
        return {row["path"]: row async for row in rows}

    async def live_named(self, account_id: str, places: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Which (parent, name) places a live folder holds (place -> its id)."""
        found = await self.live_at(account_id, [f"/{n}" if p == ROOT else f"{p}/{n}" for p, n in places])
        return {(row["parent"], row["name"]): row["_id"] for row in found.values()}

    async def ensure_paths(self, account_id: str, paths: Sequence[str], now: datetime) -> list[Doc]:
        """A live folder row for every folder on these paths (their ancestors too); the rows
        made now (one read, one insert at most)."""
        wanted = sorted({folder for path in paths for folder in ancestors(path)})
        if not wanted:
            return []
        have = await self.live_at(account_id, wanted)
        made = [folder_row(account_id, path, now) for path in wanted if path not in have]
        if made:
            await self.folders.insert_many(made, session=self.session)
        return made

    async def insert(self, row: Mapping[str, Any]) -> None:
        await self.folders.insert_one(dict(row), session=self.session)

    async def children(
        self, account_id: str, parent: str | None, *, trashed: bool, after: str | None, limit: int
    ) -> list[Doc]:
        """Sub-folders of `parent` by name (one index range), or the trash's top folders."""
        query: dict[str, Any] = {"account_id": account_id, "trashed": trashed}
        if parent is not None:
            query["parent"] = parent
        if after is not None:
            query["sort_key"] = {"$gt": after}
        if trashed:
            query["trash_top"] = True  # the folder the person trashed, not the ones it took along
        rows = self.folders.find(query, session=self.session).sort("sort_key", ASCENDING).limit(limit)
        return await rows.to_list(limit)

    async def subtree(self, account_id: str, path: str, *, trashed: bool) -> list[Doc]:
        """The folder at `path` and every folder below it (live, or trashed)."""
        low, high = below_range(path)
        query = {"account_id": account_id, "trashed": trashed}
        top = await self.folders.find({**query, "path": path}, session=self.session).to_list(None)
        below = self.folders.find({**query, "path": {"$gte": low, "$lt": high}}, session=self.session)
        return top + await below.to_list(None)

    async def trashed_with(self, account_id: str, folder_id: str) -> list[Doc]:
        rows = self.folders.find({"account_id": account_id, "trashed_with": folder_id}, session=self.session)
        return await rows.to_list(None)

    async def update_each(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set each folder's own changes (one bulk write)."""
        if changes:
            await self.folders.bulk_write(
                [UpdateOne({"_id": fid}, {"$set": dict(c)}) for fid, c in changes.items()],
                session=self.session,
            )

    async def delete_expired(self, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` folder rows trashed before `cutoff` (with no job still running);
        how many. The filter is repeated in the delete, so a row restored meanwhile stays."""
        expired: dict[str, Any] = {"trashed": True, "trashed_at": {"$lt": cutoff}, "moving": None}
        rows = await self.folders.find(expired, {"_id": 1}, session=self.session).limit(limit).to_list(limit)
        if not rows:
            return 0
        done = await self.folders.delete_many(
            {**expired, "_id": {"$in": [row["_id"] for row in rows]}}, session=self.session
        )
        return int(done.deleted_count)

    async def busy_around(self, account_id: str, path: str) -> Doc | None:
        """A folder being moved, trashed or restored that holds `path` or lies below it."""
        low, high = below_range(path)
        query = {"account_id": account_id, "moving": {"$ne": None}}
        found = await self.folders.find_one({**query, "path": {"$in": ancestors(path)}}, session=self.session)
        return found or await self.folders.find_one({**query, "path": {"$gte": low, "$lt": high}}, session=self.session)

    # --- documents a job rewrites ------------------------------------------------------

    async def documents_below(self, account_id: str, path: str, limit: int) -> list[Doc]:
        """Up to `limit` live documents in `path` or below it (two index ranges)."""
        low, high = below_range(path)
        base = {"account_id": account_id, "trashed": False}
        rows = await self.documents.find({**base, "path": path}, session=self.session).limit(limit).to_list(limit)
        if len(rows) < limit:
            more = self.documents.find({**base, "path": {"$gte": low, "$lt": high}}, session=self.session)
            rows += await more.limit(limit - len(rows)).to_list(limit - len(rows))
        return rows

    async def documents_trashed_with(self, account_id: str, folder_id: str, limit: int) -> list[Doc]:
        rows = self.documents.find({"account_id": account_id, "trashed_with": folder_id}, session=self.session)
        return await rows.limit(limit).to_list(limit)

    async def count_below(self, account_id: str, path: str) -> int:
        low, high = below_range(path)
        base = {"account_id": account_id, "trashed": False}
        return await self.documents.count_documents(
            {**base, "path": path}, session=self.session
        ) + await self.documents.count_documents({**base, "path": {"$gte": low, "$lt": high}}, session=self.session)

    async def set_documents(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set each document's own changes (one bulk write); `None` values are unset."""
        if not changes:
            return
        ops = []
        for document_id, change in changes.items():
            sets = {k: v for k, v in change.items() if v is not None}
            unsets = {k: "" for k, v in change.items() if v is None}
            update: dict[str, Any] = {"$set": sets}
            if unsets:
                update["$unset"] = unsets
            ops.append(UpdateOne({"_id": document_id}, update))
        await self.documents.bulk_write(ops, session=self.session)

    # --- jobs ----------------------------------------------------------------------------

    async def add_job(self, job: Mapping[str, Any]) -> None:
        await self.jobs.insert_one(dict(job), session=self.session)

    async def job(self, job_id: str) -> Doc | None:
        return await self.jobs.find_one({"_id": job_id}, session=self.session)

    async def end_job(self, job_id: str) -> None:
        await self.jobs.delete_one({"_id": job_id}, session=self.session)

    async def claim_job(self, job_id: str | None, *, claimant: str, now: datetime, lease: timedelta) -> Doc | None:
        """Claim a job (this one, or any unclaimed or abandoned one) for `lease`."""
        query: dict[str, Any] = {"claimed_at": {"$lt": now - lease}}
        if job_id is not None:
            query["_id"] = job_id
        return await self.jobs.find_one_and_update(
            query,
            {"$set": {"claimed_at": now, "claimed_by": claimant}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def renew_job(self, job_id: str, claimant: str, now: datetime) -> bool:
        done = await self.jobs.update_one(
            {"_id": job_id, "claimed_by": claimant}, {"$set": {"claimed_at": now}}, session=self.session
        )
        return done.matched_count == 1
