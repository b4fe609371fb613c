"""Copying a MongoDB collection from one database into another, so that a rerun leaves an exact
copy: the plumbing of the services' migrations (issue 36 moved collections out of metadata's
database into accounts' and links').

Each collection is copied document by document, replaced by `_id` (a rerun writes the same
documents again), and what the target holds that the source no longer does is deleted. The source
is only read. The secondary indexes are created on the target from the source's specs, by name, so
a rerun finds them in place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from docstore_kit.app import mongo_client
from docstore_kit.settings import ServiceSettings

INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")


async def copy_indexes(source: AsyncDatabase[Any], target: AsyncDatabase[Any], name: str) -> int:
    """Create on `target[name]` the secondary indexes of `source[name]`; how many."""
    made = 0
    async for spec in await source[name].list_indexes():
        if spec["name"] == "_id_":
            continue
        options = {key: spec[key] for key in INDEX_OPTIONS if key in spec}
        await target[name].create_index(list(spec["key"].items()), name=spec["name"], **options)
        made += 1
    return made


async def copy_collection(
    source: AsyncDatabase[Any], target: AsyncDatabase[Any], name: str, *, batch: int = 500
) -> dict[str, int]:
    """Make `target[name]` hold exactly the documents of `source[name]`; what was written and removed."""
    seen: set[Any] = set()
    pending: list[ReplaceOne[Any]] = []
    copied = 0
    async for document in source[name].find({}, sort=[("_id", 1)]):
        seen.add(document["_id"])
        pending.append(ReplaceOne({"_id": document["_id"]}, document, upsert=True))
        if len(pending) >= batch:
            copied += await _write(target, name, pending)
    copied += await _write(target, name, pending)
    stale = [row["_id"] async for row in target[name].find({}, {"_id": 1}) if row["_id"] not in seen]
    removed = 0
    for start in range(0, len(stale), batch):
        removed += (await target[name].delete_many({"_id": {"$in": stale[start : start + batch]}})).deleted_count
    return {"copied": copied, "removed": removed}


async def _write(target: AsyncDatabase[Any], name: str, pending: list[ReplaceOne[Any]]) -> int:
    if not pending:
        return 0
    await target[name].bulk_write(list(pending), ordered=False)
    written = len(pending)
    pending.clear()
    return written


async def copy_collections(
    source: AsyncDatabase[Any], target: AsyncDatabase[Any], names: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Every named collection of `source` copied into `target` (idempotent): per collection,
    documents copied and removed, and indexes made."""
    done = {}
    for name in names:
        counts = await copy_collection(source, target, name)
        counts["indexes"] = await copy_indexes(source, target, name)
        done[name] = counts
    return done


def metadata_database(settings: ServiceSettings) -> str:
    """Where metadata keeps (kept) its collections in the service's region."""
    return os.environ.get("METADATA_MONGODB_DATABASE") or f"docstore_metadata_{settings.region.replace('-', '_')}"


async def copy_out_of_metadata(
    settings: ServiceSettings, names: Iterable[str], source_database: str | None = None
) -> dict[str, Any]:
    """A service's `migrate` command: the named collections copied from metadata's database (or
    `source_database`) into the service's own, on the service's MongoDB."""
    client = mongo_client(settings)
    try:
        source = source_database or metadata_database(settings)
        if source == settings.mongodb_database:
            raise SystemExit("the source is this service's own database")
        copied = await copy_collections(client[source], client[settings.mongodb_database], names)
        return {"from": source, "to": settings.mongodb_database, "collections": copied}
    finally:
        await client.close()
