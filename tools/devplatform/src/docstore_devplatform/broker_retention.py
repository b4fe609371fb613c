"""Retention for the broker's log on ``s3://`` (issue 32).

Tansu 0.6.0's ``s3://`` engine keeps every batch it was given: ``delete_records`` is ``todo!()``
there, ``maintain`` does nothing without a lake, and a topic's ``retention.ms`` is stored but never
acted on (tansu-storage/src/dynostore.rs at v0.6.0). Its Fetch lists every batch object of the
partition on each read, so reading slows as the log grows. This sweep is the retention the
engine lacks, run by the supervisor (``platform._watch``) every ``CHECK_SECONDS``.

A batch object (``clusters/<cluster>/topics/<topic>/partitions/<p>/records/<offset>.batch``, one
per produced batch, named by its base offset) is deleted when all of these hold:

* it is older than the retention (``--broker-retention-hours``; Kafka's ``retention.ms`` ages
  segments the same way);
* every record in it was consumed by every consumer group that committed an offset on its topic:
  the next batch's base offset is at or below each such group's committed offset on that partition
  (a group with commits on the topic but none on this partition keeps the whole partition, and a
  topic no group committed on is kept whole);
* it is not the partition's last batch (Tansu reads a partition's end, its ListOffsets(latest),
  from its newest object).

A consumer resumes at its committed offset, so it never asks for what was deleted; a group that
starts at the earliest offset starts at the oldest batch left (ListOffsets(earliest) is the oldest
object). The high watermark (``watermark.json``) and the group offsets are other objects, never
touched.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CHECK_SECONDS = 600.0
DEFAULT_RETENTION = timedelta(hours=24)

_BATCH = re.compile(
    r"^clusters/[^/]+/topics/(?P<topic>[^/]+)/partitions/(?P<partition>\d+)/records/(?P<offset>\d+)\.batch$"
)

_OFFSET = re.compile(
    r"^clusters/[^/]+/groups/consumers/(?P<group>[^/]+)/offsets/(?P<topic>[^/]+)/partitions/(?P<partition>\d+)\.json$"
)

Partition = tuple[str, int]


@dataclass(frozen=True)
class Batch:
    key: str
    topic: str
    partition: int
    offset: int
    modified: datetime


def parse(key: str, modified: datetime) -> Batch | None:
    """The batch an object of Tansu's store holds, None for its other objects."""
    found = _BATCH.match(key)
    if found is None:
        return None
    return Batch(key, found["topic"], int(found["partition"]), int(found["offset"]), modified)


def floors(committed: Mapping[str, Mapping[Partition, int]]) -> dict[Partition, int]:
    """Per partition, the offset below which every group that committed on its topic has read:
    `committed` is each group's committed offsets. A partition missing from one of those groups
    has no floor (nothing of it may go)."""
    groups_on: dict[str, list[Mapping[Partition, int]]] = defaultdict(list)
    partitions: set[Partition] = set()
    for offsets in committed.values():
        for topic in {topic for topic, _ in offsets}:
            groups_on[topic].append(offsets)
        partitions |= set(offsets)
    found: dict[Partition, int] = {}
    for partition in partitions:
        offsets = [group.get(partition) for group in groups_on[partition[0]]]
        if all(offset is not None for offset in offsets):
            found[partition] = min(offset for offset in offsets if offset is not None)
    return found


def removable(batches: Iterable[Batch], floor: Mapping[Partition, int], *, before: datetime) -> list[Batch]:
    """The batches retention deletes (see the module): older than `before`, wholly below the
    partition's floor, never a partition's last."""
    by_partition: dict[Partition, list[Batch]] = defaultdict(list)
    for batch in batches:
        by_partition[(batch.topic, batch.partition)].append(batch)
    gone: list[Batch] = []
    for partition, found in by_partition.items():
        limit = floor.get(partition)
        if limit is None:
            continue
        ordered = sorted(found, key=lambda batch: batch.offset)
        for batch, following in zip(ordered, ordered[1:], strict=False):
            if following.offset > limit:
                break
            if batch.modified < before:
                gone.append(batch)
    return gone


def sweep(s3: Any, bucket: str, *, retention: timedelta, now: datetime | None = None) -> int:
    """Delete what retention allows from the broker's store (bucket `bucket` of the `kafka-log`
    SeaweedFS, `s3` a boto3 client); the number of batch objects deleted. The groups' committed
    offsets are read from the same store (Tansu 0.6 answers an OffsetFetch for all of a group's
    partitions with a body aiokafka cannot decode)."""
    batches: list[Batch] = []
    committed: dict[str, dict[Partition, int]] = defaultdict(dict)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="clusters/"):
        for item in page.get("Contents", []):
            batch = parse(item["Key"], item["LastModified"])
            if batch is not None:
                batches.append(batch)
                continue
            offset = _OFFSET.match(item["Key"])
            if offset is not None:
                body = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                if int(body.get("offset", -1)) >= 0:
                    committed[offset["group"]][(offset["topic"], int(offset["partition"]))] = int(body["offset"])
    gone = removable(batches, floors(committed), before=(now or datetime.now(UTC)) - retention)
    for start in range(0, len(gone), 1000):
        chunk: Sequence[Batch] = gone[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": batch.key} for batch in chunk], "Quiet": True})
    return len(gone)
