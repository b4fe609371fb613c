"""The broker log's retention rules (issue 32; `docstore_devplatform.broker_retention`): what may
go from Tansu's `s3://` store, and what never does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from docstore_devplatform.broker_retention import Batch, floors, parse, removable

OLD = datetime(2026, 1, 1, tzinfo=UTC)
NOW = OLD + timedelta(days=2)


def batch(offset: int, *, topic: str = "t", partition: int = 0, modified: datetime = OLD) -> Batch:
    return Batch(f"{topic}/{partition}/{offset}", topic, partition, offset, modified)


def test_only_batch_objects_are_batches() -> None:
    key = "clusters/tansu/topics/docstore.upload.completed/partitions/0000000002/records/00000000000000000042.batch"
    found = parse(key, OLD)
    assert found is not None and (found.topic, found.partition, found.offset) == ("docstore.upload.completed", 2, 42)
    assert parse("clusters/tansu/topics/t/partitions/0000000002/watermark.json", OLD) is None
    assert parse("clusters/tansu/groups/consumers/g/offsets/t/partitions/0000000000.json", OLD) is None


def test_the_floor_is_the_slowest_group_and_a_group_without_the_partition_keeps_it() -> None:
    committed = {"quota": {("t", 0): 9, ("t", 1): 4}, "notify": {("t", 0): 5}, "other": {("u", 0): 3}}
    assert floors(committed) == {("t", 0): 5, ("u", 0): 3}  # ("t", 1): notify has no offset there


def test_a_batch_goes_when_old_wholly_read_by_every_group_and_not_the_last() -> None:
    batches = [batch(0), batch(3), batch(5), batch(8)]
    before = NOW - timedelta(days=1)
    # floor 5: 0-2 and 3-4 were read by everyone; 5 holds the next record to read.
    assert [b.offset for b in removable(batches, {("t", 0): 5}, before=before)] == [0, 3]
    # everything read: the last batch stays (the partition's end is read from it)
    assert [b.offset for b in removable(batches, {("t", 0): 99}, before=before)] == [0, 3, 5]
    assert removable(batches, {}, before=before) == []  # no group committed: all kept
    young = [batch(0, modified=NOW), batch(3)]
    assert removable(young, {("t", 0): 99}, before=before) == []  # younger than the retention
