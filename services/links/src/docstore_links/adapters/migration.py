"""Copying the link collections out of metadata's database into this service's (issue 36).

Each collection is copied document by document, replaced by `_id` (a rerun writes the same
documents again), and what the target holds that the source no longer does is deleted, so a rerun
leaves an exact copy. The source is only read. The secondary indexes are created on the target from
the source's specs (the unique token digest...), by name, so a rerun finds them in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_kit.collection_copy import copy_collection, copy_indexes

LINK_COLLECTIONS = ("share_links", "link_policies")
"""The links' collections, named as metadata named them (and as `adapters/repository.py` does)."""


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
