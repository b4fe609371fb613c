"""One-shot platform init for a DocStore region: Kafka topics, MongoDB collections, S3 bucket.

Run with the python of any DocStore service image (it needs docstore_events, aiokafka,
pymongo and boto3, which every image with S3 access carries). Used by docker-compose's
`init` service and by the Helm chart's pre-install/pre-upgrade Job. Idempotent: what
exists is left alone. Retries each server until it answers (at most INIT_TIMEOUT_SECONDS).

Environment (the same names the services read):
  KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX   topics = docstore_events.topics.all_topics(prefix)
  KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD,
  KAFKA_SSL_CAFILE                              as the services (docstore_messaging.kafka_security)
  KAFKA_PARTITIONS (3), KAFKA_REPLICATION_FACTOR (1)
  KAFKA_TOPIC_RETENTION_MS, KAFKA_DLQ_RETENTION_MS (defaults to the former),
  KAFKA_MIN_INSYNC_REPLICAS                     configs of the topics created; unset: the
                                                broker's defaults. Existing topics are not
                                                altered: a difference is reported (see
                                                deploy/README.md, "Topic settings").
  MONGODB_URL, MONGODB_TLS_CA_FILE, REGION,
  INIT_SERVICES ("metadata upload quota indexer notify analytics accounts links gateway")
                                                collections `outbox` and the processed-events
                                                record in docstore_<service>_<region>
                                                (or <SERVICE>_MONGODB_DATABASE)
  S3_BUCKET (docstore-<region>), S3_ENDPOINT_URL, AWS_*   bucket, unless INIT_CREATE_BUCKET=false;
                                                outside us-east-1 created with its
                                                LocationConstraint (AWS refuses it otherwise)
  S3_CORS_ORIGINS ("*")                         CORS for browser POST/PUT/GET straight to S3
  S3_SERVER_SIDE_ENCRYPTION (AES256), S3_SSE_KMS_KEY_ID
                                                the bucket's default encryption (none: left
                                                as it is), a belt to the services' braces:
                                                every write of theirs asks for it anyway
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

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


def topic_configs(environ: Mapping[str, str], *, dead_letter: bool) -> dict[str, str]:
    """The configs a new topic is created with: `retention.ms` (dead-letter topics may keep
    their messages longer) and `min.insync.replicas`. Unset variables add nothing, so a local
    broker keeps its defaults."""
    configs: dict[str, str] = {}
    retention = environ.get("KAFKA_TOPIC_RETENTION_MS", "")
    if dead_letter:
        retention = environ.get("KAFKA_DLQ_RETENTION_MS", "") or retention
    if retention:
        configs["retention.ms"] = str(int(retention))
    min_insync = environ.get("KAFKA_MIN_INSYNC_REPLICAS", "")
    if min_insync:
        configs["min.insync.replicas"] = str(int(min_insync))
    return configs


def topic_plan(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every topic to create: name, num_partitions, replication_factor and topic_configs
    (NewTopic's arguments). Refuses a min.insync.replicas above the replication factor: with
    acks=all no write could ever succeed."""
    from docstore_events.topics import DEAD_LETTER_SUFFIX, all_topics

    partitions = int(environ.get("KAFKA_PARTITIONS", "3"))
    replication = int(environ.get("KAFKA_REPLICATION_FACTOR", "1"))
    min_insync = int(environ.get("KAFKA_MIN_INSYNC_REPLICAS", "") or 1)
    if min_insync > replication:
        raise SystemExit(
            f"init: KAFKA_MIN_INSYNC_REPLICAS ({min_insync}) exceeds KAFKA_REPLICATION_FACTOR ({replication}):"
            " producers use acks=all, so no write could succeed"
        )
    return [
        {
            "name": topic,
            "num_partitions": partitions,
            "replication_factor": replication,
            "topic_configs": topic_configs(environ, dead_letter=topic.endswith(DEAD_LETTER_SUFFIX)),
        }
        for topic in all_topics(environ.get("KAFKA_TOPIC_PREFIX", ""))
    ]


def config_drift(wanted: Mapping[str, str], actual: Mapping[str, str]) -> dict[str, tuple[str | None, str]]:
    """Configs of an existing topic that differ from those a new one would get: key -> (actual, wanted)."""
    return {key: (actual.get(key), value) for key, value in wanted.items() if actual.get(key) != value}


async def report_drift(admin: Any, configured: list[dict[str, Any]]) -> None:
    """Say which existing topics have other configs than the ones a new topic would get."""
    from aiokafka.admin import ConfigResource, ConfigResourceType

    resources = [ConfigResource(ConfigResourceType.TOPIC, spec["name"]) for spec in configured]
    actual: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            actual[name] = {entry[0]: entry[1] for entry in entries}
    for spec in configured:
        drift = config_drift(spec["topic_configs"], actual.get(spec["name"], {}))
        if drift:
            say(f"kafka: topic {spec['name']} differs from the chart (actual, wanted): {drift}")


def create_topics() -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from docstore_messaging.kafka_security import KafkaSecurity

    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    security = KafkaSecurity.from_env(os.environ)
    plan = topic_plan(os.environ)

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security.client_kwargs())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [NewTopic(**spec) for spec in plan if spec["name"] not in existing]
            if missing:
                await admin.create_topics(missing)
            say(f"kafka: {len(plan)} topics present ({len(missing)} created, prefix {prefix!r}, {security.protocol})")
            # Existing topics keep their settings (altering them is an operator's decision,
            # deploy/README.md "Topic settings"); differences are reported, not applied.
            configured = [spec for spec in plan if spec["name"] in existing and spec["topic_configs"]]
            if configured:
                try:
                    await report_drift(admin, configured)
                except Exception as error:  # a report only: never fail the install for it
                    say(f"kafka: could not compare topic configs: {type(error).__name__}: {error}")
        finally:
            await admin.close()

    retry("kafka topics", lambda: asyncio.run(run()))


def create_collections() -> None:
    from pymongo import MongoClient

    from docstore_messaging.outbox import OUTBOX_COLLECTION
    from docstore_messaging.unit_of_work import PROCESSED_COLLECTION

    region = os.environ.get("REGION", "us-west-2")
    services = os.environ.get("INIT_SERVICES", "metadata upload quota indexer notify analytics accounts links gateway").split()
    ca_file = os.environ.get("MONGODB_TLS_CA_FILE", "")
    tls = {"tlsCAFile": ca_file} if ca_file else {}  # as docstore_kit.settings.mongodb_client_options
    client = MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=5_000, **tls)

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


def bucket_location(region: str) -> dict[str, Any]:
    """create_bucket's extra arguments: AWS creates a bucket in us-east-1 unless told where,
    and refuses a client of another region without a LocationConstraint."""
    if not region or region == "us-east-1":
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": region}}


def bucket_encryption(algorithm: str, kms_key_id: str = "") -> dict[str, Any] | None:
    """put_bucket_encryption's configuration for S3_SERVER_SIDE_ENCRYPTION, or None for `none`
    (an S3-compatible store without server-side encryption)."""
    if algorithm == "none":
        return None
    default: dict[str, str] = {"SSEAlgorithm": algorithm}
    if kms_key_id:
        default["KMSMasterKeyID"] = kms_key_id
    # A bucket key cuts KMS requests (and their cost) for SSE-KMS; SSE-S3 has no use for it.
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": algorithm == "aws:kms"}]}


def create_bucket() -> None:
    if os.environ.get("INIT_CREATE_BUCKET", "true").lower() in {"0", "false", "no"}:
        say("s3: bucket creation skipped (INIT_CREATE_BUCKET=false)")
        return
    import boto3
    from botocore.config import Config

    region = os.environ.get("REGION", "us-west-2")
    bucket = os.environ.get("S3_BUCKET") or f"docstore-{region}"
    origins = os.environ.get("S3_CORS_ORIGINS", "*").split()
    encryption = bucket_encryption(
        os.environ.get("S3_SERVER_SIDE_ENCRYPTION") or "AES256", os.environ.get("S3_SSE_KMS_KEY_ID", "").strip()
    )
    bucket_region = os.environ.get("AWS_DEFAULT_REGION", region)
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
        region_name=bucket_region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )

    def run() -> None:
        names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in names:
            s3.create_bucket(Bucket=bucket, **bucket_location(bucket_region))
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
        if encryption is not None:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)
        default = encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"] if encryption else "none"
        say(f"s3: bucket {bucket} ready with CORS {origins}, default encryption {default}")

    retry("s3 bucket", run)


def main() -> int:
    create_topics()
    create_collections()
    create_bucket()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
