"""A version's bytes are read by its extraction and by its preview: the second read takes the
whole object the first one got, instead of a second GET."""

from __future__ import annotations

import io
from typing import Any

import pytest

from docstore_indexer.adapters.object_store import ObjectStore, RecentReads


class Bucket:
    """boto3's `get_object` with a byte range, over objects in memory; counts the GETs."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.gets = 0

    def get_object(self, *, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.gets += 1
        last = int(Range.removeprefix("bytes=0-"))
        return {"Body": io.BytesIO(self.objects[Key][: last + 1])}


async def test_the_second_reader_takes_the_whole_object_without_a_get() -> None:
    bucket = Bucket({"v1": b"minutes" * 10})
    recent = RecentReads()
    extraction, previews = ObjectStore(bucket, recent=recent), ObjectStore(bucket, recent=recent)
    assert await extraction.read("b", "v1", limit=1000) == b"minutes" * 10
    assert await previews.read("b", "v1", limit=5) == b"minut"  # as a ranged GET would answer
    assert bucket.gets == 1
    assert await previews.read("b", "v1", limit=1000) == b"minutes" * 10  # taken once: a third read GETs
    assert bucket.gets == 2


async def test_a_partial_read_is_not_kept() -> None:
    bucket = Bucket({"v1": b"x" * 100})
    recent = RecentReads()
    store = ObjectStore(bucket, recent=recent)
    assert await store.read("b", "v1", limit=10) == b"x" * 10  # the object is longer than the limit
    assert await store.read("b", "v1", limit=1000) == b"x" * 100
    assert bucket.gets == 2


def test_entries_expire_and_the_budget_drops_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("docstore_indexer.adapters.object_store.time.monotonic", lambda: clock[0])
    recent = RecentReads(max_bytes=10, max_object=6, seconds=60)
    recent.keep("b", "big", b"x" * 7)  # over max_object: never kept
    recent.keep("b", "a", b"a" * 6)
    recent.keep("b", "c", b"c" * 6)  # 12 bytes > 10: "a" goes
    assert recent.take("b", "big") is None and recent.take("b", "a") is None
    assert recent.take("b", "c") == b"c" * 6
    recent.keep("b", "d", b"d")
    clock[0] += 61
    assert recent.take("b", "d") is None
