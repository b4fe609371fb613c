"""What DocStore sends to its servers, counted at the servers: database commands and broker records.

These counts cost on any database and any broker, whatever its speed, so they are the figures
DocStore controls (issue 35). Both are read from the servers themselves, before and after a phase:

- database commands: the sum of `serverStatus.opcounters` (insert, query, update, delete,
  getmore, command) over every database of the MongoDB-protocol server. It counts every
  service's commands in the phase, background loops included (outbox relays, watchers), and
  the two `serverStatus` commands that take the snapshots;
- broker records: every record of the given topics, read back and counted (`RecordTail`; the
  partitions' end offsets undercount on Tansu), so every record any producer wrote in the phase
  (dead letters included, if their topics are given).

    before = await snapshot(endpoints, topics)
    ...  # the phase
    after = await snapshot(endpoints, topics)
    per_file = (after - before).per(files)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import struct
import sys
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from docstore_devplatform.launch import KAFKA_LOG_BUCKET

OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")


@dataclasses.dataclass(frozen=True)
class Counts:
    """Database commands by kind and broker records by topic, as totals or as a difference of two snapshots."""

    database: dict[str, float]
    records_by_topic: dict[str, float]
    by_collection: dict[str, float] = dataclasses.field(default_factory=dict)
    """Commands that named a collection, by `database.collection` (SecantusDB's `top`)."""

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            {kind: self.database.get(kind, 0) - other.database.get(kind, 0) for kind in OPCOUNTERS},
            {
                topic: count - other.records_by_topic.get(topic, 0)
                for topic, count in self.records_by_topic.items()
                if count != other.records_by_topic.get(topic, 0)
            },
            {
                name: count - other.by_collection.get(name, 0)
                for name, count in self.by_collection.items()
                if count != other.by_collection.get(name, 0)
            },
        )

    def by_service(self) -> dict[str, float]:
        """Commands that named a collection, by the service whose database it is
        (`docstore_<service>_<region>`)."""
        services: dict[str, float] = {}
        for name, count in self.by_collection.items():
            database = name.split(".", 1)[0]
            service = database.split("_")[1] if database.startswith("docstore_") else database
            services[service] = services.get(service, 0.0) + count
        return services

    @property
    def broker_records(self) -> float:
        return sum(self.records_by_topic.values())

    @property
    def database_ops(self) -> float:
        return sum(self.database.values())

    def per(self, files: int) -> dict[str, Any]:
        """Per file, for a bench's --json: database commands (total and by kind) and broker records (total and by topic)."""
        return {
            "db_ops_per_file": round(self.database_ops / files, 2),
            "db_ops_per_file_by_kind": {kind: round(count / files, 2) for kind, count in self.database.items()},
            "broker_records_per_file": round(self.broker_records / files, 2),
            "db_ops_per_file_by_service": {
                service: round(count / files, 2) for service, count in sorted(self.by_service().items())
            },
            "db_ops_per_file_by_collection": {
                name: round(count / files, 2)
                for name, count in sorted(self.by_collection.items(), key=lambda item: -item[1])
                if count / files >= 0.05
            },
            "broker_records_per_file_by_topic": {
                topic: round(count / files, 2) for topic, count in sorted(self.records_by_topic.items())
            },
        }

    def line(self, files: int) -> str:
        kinds = ", ".join(f"{kind} {count / files:.2f}" for kind, count in self.database.items() if count)
        topics = ", ".join(
            f"{topic.removeprefix('docstore.')} {count / files:.2f}"
            for topic, count in sorted(self.records_by_topic.items(), key=lambda item: -item[1])
        )
        services = ", ".join(
            f"{service} {count / files:.2f}"
            for service, count in sorted(self.by_service().items(), key=lambda item: -item[1])
        )
        return (
            f"{self.database_ops / files:.2f} database commands per file ({kinds}; by service: {services}); "
            f"{self.broker_records / files:.2f} broker records per file ({topics})"
        )


async def database_counters(mongo_url: str) -> dict[str, float]:
    """The server's operation counters since it started (`serverStatus.opcounters`)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=10_000)
    try:
        status = await client.admin.command("serverStatus")
    finally:
        await client.close()
    counters = status.get("opcounters") or {}
    return {kind: float(counters.get(kind, 0)) for kind in OPCOUNTERS}


async def collection_counters(mongo_url: str) -> dict[str, float]:
    """Commands per `database.collection` since the server started (`top`; empty where unsupported)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=10_000)
    try:
        totals = (await client.admin.command("top")).get("totals", {})
    except Exception:  # a server without `top`: the by-collection split is left out
        return {}
    finally:
        await client.close()
    return {
        name: float(entry.get("total", {}).get("count", 0)) for name, entry in totals.items() if isinstance(entry, dict)
    }


class RecordTail:
    """Every record of some topics, read from the start and counted by topic, with each partition's
    true end (the offset after its last record).

    The records are counted by reading them, not from the partitions' end offsets: Tansu 0.6
    answers ListOffsets with less than its log holds once a produce request carried several
    records (13 records in one partition, 10 of them in one request: end offset 1), so end
    offsets undercount what a batching producer (the outbox relay) sent."""

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.by_topic: dict[str, float] = {}
        self.ends: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None

    async def _start(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        await consumer.topics()  # loads the cluster's metadata, which partitions_for_topic reads
        partitions = [
            TopicPartition(topic, partition)
            for topic in self.topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return consumer

    async def catch_up(self, *, empty_polls: int = 2) -> dict[str, float]:
        """Read what was written since the last call (until `empty_polls` polls in a row find
        nothing); returns the records ever written, by topic."""
        if self._consumer is None:
            self._consumer = await self._start()
        empty = 0
        while empty < empty_polls:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=5_000)
            empty = 0 if any(batches.values()) else empty + 1
            for partition, records in batches.items():
                if records:
                    self.by_topic[partition.topic] = self.by_topic.get(partition.topic, 0.0) + len(records)
                    self.ends[partition] = records[-1].offset + 1
        return dict(self.by_topic)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


_tails: dict[tuple[str, tuple[str, ...]], RecordTail] = {}


def record_tail(bootstrap: str, topics: Iterable[str]) -> RecordTail:
    """The process's one `RecordTail` of these topics (it reads each record once)."""
    key = (bootstrap, tuple(topics))
    if key not in _tails:
        _tails[key] = RecordTail(bootstrap, key[1])
    return _tails[key]


_admins: dict[str, AIOKafkaAdminClient] = {}


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    """The process's one admin client of the broker at `bootstrap`."""
    if bootstrap not in _admins:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        _admins[bootstrap] = admin
    return _admins[bootstrap]


async def stop_tails() -> None:
    """Stop every `RecordTail`'s consumer and the admin clients (at the end of a bench)."""
    for tail in _tails.values():
        await tail.stop()
    _tails.clear()
    for admin in _admins.values():
        await admin.close()
    _admins.clear()


async def broker_records(bootstrap: str, topics: Iterable[str]) -> dict[str, float]:
    """Per topic of `topics`, the records ever written to it (read and counted: `RecordTail`)."""
    return await record_tail(bootstrap, topics).catch_up()


async def snapshot(endpoints: Any, topics: Iterable[str]) -> Counts:
    """Database counters and broker end offsets now (`endpoints`: devplatform's `Endpoints`)."""
    return Counts(
        await database_counters(endpoints.mongo_url),
        await broker_records(endpoints.kafka_bootstrap, list(topics)),
        await collection_counters(endpoints.mongo_url),
    )


GROUPS = (
    "gateway",
    "metadata",
    "accounts",
    "accounts-audit",
    "upload",
    "quota",
    "indexer",
    "notify",
    "analytics",
    "links",
)
"""The services' consumer groups (a region's topic prefix goes before each)."""


async def lagging(
    bootstrap: str, topics: Iterable[str], groups: Iterable[str] = GROUPS, by_group: dict[str, int] | None = None
) -> int:
    """Records the consumer groups have not yet committed past, against each partition's true end
    (`RecordTail`: read, not asked). A group counts as reading a topic once it has committed on
    any of its partitions; its other partitions of that topic count from 0. `by_group` gets each
    lagging group's count."""
    tail = record_tail(bootstrap, topics)
    await tail.catch_up()
    ends = dict(tail.ends)
    behind = 0
    admin = await _admin(bootstrap)
    for group in groups:
        # One OffsetFetch per group for every partition (a consumer's `committed` asks one
        # partition a request: on the durable log, each is reads of the broker's store, which
        # counted in the figures while this waited).
        offsets = await admin.list_consumer_group_offsets(group, partitions=list(ends))
        committed = {
            partition: (found.offset if (found := offsets.get(partition)) and found.offset >= 0 else None)
            for partition in ends
        }
        read_topics = {partition.topic for partition, offset in committed.items() if offset is not None}
        for partition, end in ends.items():
            if partition.topic in read_topics:
                lag = max(0, end - (committed[partition] or 0))
                behind += lag
                if lag and by_group is not None:
                    key = f"{group} {partition.topic}"
                    by_group[key] = by_group.get(key, 0) + lag
    return behind


PENDING_WORK = {
    "outbox": {"status": "pending"},  # every service: events not yet published
    "previews": {"due": True},  # indexer: previews not yet rendered and recorded
    "catalog": {"index_due": True},  # indexer: uploads not yet indexed
}
"""Work a service has accepted and not finished, by collection: counted as done only at zero."""


async def pending_work(mongo_url: str) -> tuple[int, dict[str, float], int]:
    """Rows of `PENDING_WORK` left, summed over every service's database; and the commands this
    check itself sent: by `database.collection` (one count per collection), and how many named no
    collection (the listings), so a caller can take them out of what it counts."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=10_000)
    pending, sent, listings = 0, {}, 1
    try:
        for name in await client.list_database_names():
            if not name.startswith("docstore_"):
                continue
            database = client[name]
            listings += 1
            collections = set(await database.list_collection_names())
            for collection, query in PENDING_WORK.items():
                if collection in collections:
                    pending += await database[collection].count_documents(query)
                    sent[f"{name}.{collection}"] = 1.0
    finally:
        await client.close()
    return pending, sent, listings


def _less(counts: Counts, kind: str, by_collection: dict[str, float], unattributed: float = 0) -> Counts:
    """`counts` without the bench's own checks (commands of kind `kind`: `by_collection`'s and
    `unattributed` more that named no collection)."""
    total = sum(by_collection.values()) + unattributed
    return Counts(
        {**counts.database, kind: counts.database.get(kind, 0) - total},
        counts.records_by_topic,
        {name: count - by_collection.get(name, 0) for name, count in counts.by_collection.items()},
    )


async def settled(endpoints: Any, topics: Iterable[str], *, quiet_s: int = 3, timeout_s: float = 300) -> Counts:
    """Waits until no service has work left (`PENDING_WORK`: an outbox row to publish, a preview
    to render, an upload to index), every consumer group has committed past every record of
    `topics` (and of S3's notifications), and the broker took no new record for `quiet_s` seconds
    in a row (a consumer may still be working on a record it has not committed, and produce
    later), or `timeout_s`; returns a snapshot taken then.

    While it waits it reads only the broker; the pending work is counted once the broker is quiet,
    and those counts are taken out of the snapshot, so what it returns is what the services sent.
    (Before, a snapshot per second added two commands a second, and a relay slower than
    `quiet_s` under load left records out of the count.)"""
    topics = list(topics)
    deadline = time.monotonic() + timeout_s
    ours: dict[str, float] = {}
    listings = 0
    # S3's notifications too (upload reads them): not DocStore's records, but work it does.
    s3_events = getattr(endpoints, "s3_events_topic", "")
    lag_topics = topics + ([s3_events] if s3_events else [])
    started = time.monotonic()
    last, quiet = await broker_records(endpoints.kafka_bootstrap, topics), 0
    last_record = last_lag = started
    last_laggards: dict[str, int] = {}
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = await broker_records(endpoints.kafka_bootstrap, topics)
        moved, last = now != last, now
        if moved:
            last_record = time.monotonic()
        laggards: dict[str, int] = {}
        behind = 0 if moved else await lagging(endpoints.kafka_bootstrap, lag_topics, by_group=laggards)
        if behind:
            last_lag, last_laggards = time.monotonic(), laggards
        quiet = quiet + 1 if not moved and not behind else 0
        if quiet >= quiet_s:
            pending, sent, listed = await pending_work(endpoints.mongo_url)
            listings += listed
            for name, count in sent.items():
                ours[name] = ours.get(name, 0.0) + count
            if not pending:
                break
            quiet = 0
    else:
        print(f"  (counts: not settled after {timeout_s:.0f} s)")
    print(
        f"  (settled after {time.monotonic() - started:.1f} s: the broker's last new record at "
        f"{last_record - started:.1f} s, the last lag seen at {last_lag - started:.1f} s: {last_laggards})",
        file=sys.stderr,
    )
    return _less(await snapshot(endpoints, topics), "command", ours, listings)


_GROUP_STATE = re.compile(r"^clusters/[^/]+/groups/consumers/(?P<group>[^/]+)\.json$")


def member_topics(metadata: bytes) -> list[str]:
    """The topics of a consumer's JoinGroup subscription (Kafka's ConsumerProtocolMemberMetadata:
    int16 version, int32 count, then each topic as an int16 length and its bytes)."""
    (count,) = struct.unpack_from(">i", metadata, 2)
    topics, at = [], 6
    for _ in range(count):
        (length,) = struct.unpack_from(">h", metadata, at)
        topics.append(metadata[at + 2 : at + 2 + length].decode())
        at += 2 + length
    return topics


def group_subscriptions(store: Any) -> dict[str, list[str]]:
    """Each consumer group with members, and its topics, from the group states in the broker's
    durable log (`store`: an S3 client of the log's SeaweedFS): Tansu 0.6 keeps each member's
    JoinGroup in `clusters/<cluster>/groups/consumers/<group>.json`."""
    subscriptions: dict[str, list[str]] = {}
    for page in store.get_paginator("list_objects_v2").paginate(Bucket=KAFKA_LOG_BUCKET, Prefix="clusters/"):
        for item in page.get("Contents", []):
            found = _GROUP_STATE.match(item["Key"])
            if found is None:
                continue
            state = json.loads(store.get_object(Bucket=KAFKA_LOG_BUCKET, Key=item["Key"])["Body"].read())
            topics = {
                topic
                for member in state.get("members", {}).values()
                for topic in member_topics(bytes(member["join_response"]["metadata"]))
            }
            if topics:
                subscriptions[found["group"]] = sorted(topics)
    return subscriptions


def groups_per_record(records_by_topic: dict[str, float], subscriptions: dict[str, list[str]]) -> float:
    """How many consumer groups read a record, on average over the records of `records_by_topic`."""
    readers = {topic: sum(topic in topics for topics in subscriptions.values()) for topic in records_by_topic}
    total = sum(records_by_topic.values())
    return sum(count * readers[topic] for topic, count in records_by_topic.items()) / total if total else 0.0
