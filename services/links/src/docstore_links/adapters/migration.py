"""Copying the link collections out of metadata's database into this service's (issue 36).

Each collection is copied document by document, replaced by `_id` (a rerun writes the same
documents again), and what the target holds that the source no longer does is deleted, so a rerun
leaves an exact copy. The source is only read. The secondary indexes are created on the target from
the source's specs (the unique token digest...), by name, so a rerun finds them in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

LINK_COLLECTIONS = ("share_links", "link_policies")
"""The links' collections, named as metadata named them (and as `adapters/repository.py` does)."""

INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")


async def copy_indexes(source: AsyncDatabase[Any], target: AsyncDatabase[Any], name: str) -> int:
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


async def copy_link_collections(
    source: AsyncDatabase[Any], target: AsyncDatabase[Any], names: Iterable[str] = LINK_COLLECTIONS
) -> dict[str, dict[str, int]]:
    """Every link collection of `source` copied into `target` (idempotent): per collection,
    documents copied and removed, and indexes made."""
    done = {}
    for name in names:
        counts = await copy_collection(source, target, name)
        counts["indexes"] = await copy_indexes(source, target, name)
        done[name] = counts
    return done
