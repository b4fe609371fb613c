"""What reconciliation reads and writes: the object sizes in S3 and the stored reports.

Objects live under `<region>/<account_id>/<document_id>/<upload_id>` in the region's bucket.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "reconciliations"


def s3_sizes(s3: Any, bucket: str, region: str) -> tuple[dict[str, int], int]:
    """Bytes per account under `<region>/` and the number of objects (blocking: run in a thread)."""
    sizes: dict[str, int] = defaultdict(int)
    objects = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{region}/"):
        for item in page.get("Contents", []):
            parts = item["Key"].split("/")
            if len(parts) >= 3 and parts[1]:
                sizes[parts[1]] += item["Size"]
                objects += 1
    return dict(sizes), objects


class S3Inventory:
    """The bytes each account has under `<region>/` of `bucket`."""

    def __init__(self, s3: Any, *, bucket: str, region: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.region = region

    async def sizes(self) -> tuple[dict[str, int], int]:
        """Bytes per account and the number of objects listed."""
        return await asyncio.to_thread(s3_sizes, self.s3, self.bucket, self.region)


class ReportRepository:
    """Reconciliation reports (`reconciliations`); a report's `id` is stored as `_id`."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[COLLECTION]

    async def add(self, report: dict[str, Any]) -> None:
        stored = {("_id" if key == "id" else key): value for key, value in report.items()}
        await self.collection.insert_one(stored)

    async def latest(self) -> dict[str, Any] | None:
        doc = await self.collection.find_one({}, sort=[("started_at", DESCENDING)])
        return {("id" if key == "_id" else key): value for key, value in doc.items()} if doc else None
