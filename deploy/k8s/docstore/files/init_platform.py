"""One-shot platform init for a DocStore region: Kafka topics, MongoDB collections, S3 bucket.

Run with the python of any DocStore service image (it needs docstore_events, aiokafka,
pymongo and boto3, which every image with S3 access carries). Used by docker-compose's
`init` service and by the Helm chart's pre-install/pre-upgrade Job. Idempotent: what
exists is left alone. Retries each server until it answers (at most INIT_TIMEOUT_SECONDS).

Environment (the same names the services read):
  KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX   topics = docstore_events.topics.all_topics(prefix)
  KAFKA_PARTITIONS (3), KAFKA_REPLICATION_FACTOR (1)
  MONGODB_URL, REGION, INIT_SERVICES ("metadata upload quota indexer notify gateway")
                                                collections `outbox` and the processed-events
                                                record in docstore_<service>_<region>
                                                (or <SERVICE>_MONGODB_DATABASE)
  S3_BUCKET (docstore-<region>), S3_ENDPOINT_URL, AWS_*   bucket, unless INIT_CREATE_BUCKET=false
  S3_CORS_ORIGINS ("*")                         CORS for browser POST/PUT/GET straight to S3
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable

TIMEOUT = float(os.environ.get("INIT_TIMEOUT_SECONDS", "180"))


def say(message: str) -> None:
    print(f"init: {message}", flush=True)


def retry(what: str, step: Callable[[], object]) -> object:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return step()
        except Exception as error:  # servers come up at their own pace
            if time.monotonic() > deadline:
                raise SystemExit(f"init: {what} failed for {TIMEOUT:.0f}s: {error}") from error
            say(f"{what}: {type(error).__name__}: {error}; retrying")
            time.sleep(2)


def create_topics() -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from docstore_events.topics import all_topics

    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    partitions = int(os.environ.get("KAFKA_PARTITIONS", "3"))
    replication = int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))
    topics = all_topics(prefix)

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [NewTopic(t, num_partitions=partitions, replication_factor=replication) for t in topics if t not in existing]
            if missing:
                await admin.create_topics(missing)
            say(f"kafka: {len(topics)} topics present ({len(missing)} created, prefix {prefix!r})")
        finally:
            await admin.close()

    retry("kafka topics", lambda: asyncio.run(run()))


def create_collections() -> None:
    from docstore_events.unit_of_work import PROCESSED_COLLECTION
    from docstore_events.outbox import OUTBOX_COLLECTION
    from pymongo import MongoClient

    region = os.environ.get("REGION", "us-west-2")
    services = os.environ.get("INIT_SERVICES", "metadata upload quota indexer notify gateway").split()
    client = MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=5_000)

    def run() -> None:
        for service in services:
            name = os.environ.get(f"{service.upper()}_MONGODB_DATABASE") or os.environ.get("MONGODB_DATABASE")
            name = name or f"docstore_{service}_{region.replace('-', '_')}"
            db = client[name]
            existing = set(db.list_collection_names())
            for collection in (OUTBOX_COLLECTION, PROCESSED_COLLECTION):
                if collection not in existing:
                    db.create_collection(collection)
            say(f"mongodb: {name} ready")

    retry("mongodb collections", run)


def create_bucket() -> None:
    if os.environ.get("INIT_CREATE_BUCKET", "true").lower() in {"0", "false", "no"}:
        say("s3: bucket creation skipped (INIT_CREATE_BUCKET=false)")
        return
    import boto3
    from botocore.config import Config

    region = os.environ.get("REGION", "us-west-2")
    bucket = os.environ.get("S3_BUCKET") or f"docstore-{region}"
    origins = os.environ.get("S3_CORS_ORIGINS", "*").split()
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_DEFAULT_REGION", region),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )

    def run() -> None:
        names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in names:
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": origins,
                        "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 3600,
                    }
                ]
            },
        )
        say(f"s3: bucket {bucket} ready with CORS {origins}")

    retry("s3 bucket", run)


def main() -> int:
    create_topics()
    create_collections()
    create_bucket()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
