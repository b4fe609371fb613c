"""Readiness checks and provisioning (topics, buckets) for the local servers.

Each ``check_*`` function raises while its server is not ready, so it can be
polled with :func:`docstore_devplatform.waiting.wait_until`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import os
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import boto3
import httpx
import pymongo
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

T = TypeVar("T")

PROBE_KEY = "_devplatform/readiness-probe"
_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


def run_async(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a fresh event loop in a worker thread.

    Works whether or not the caller already runs an event loop (pytest-asyncio fixtures do).
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make_coro()).result()


# --- Kafka -----------------------------------------------------------------


async def _with_admin(bootstrap: str, use: Callable[[AIOKafkaAdminClient], Awaitable[T]]) -> T:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await admin.start()
    try:
        return await use(admin)
    finally:
        await admin.close()


def check_kafka(bootstrap: str) -> list[str]:
    """Fetch cluster metadata; return the topic names."""
    return run_async(lambda: _with_admin(bootstrap, lambda admin: admin.list_topics()))


def create_topics(bootstrap: str, topics: Iterable[str], partitions: int = 3) -> None:
    """Create the missing ``topics`` (replication factor 1) and check they all exist."""
    wanted = sorted(set(topics))
    if not wanted:
        return

    async def create(admin: AIOKafkaAdminClient) -> None:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
            )
            errors = [
                (name, code, message)
                for name, code, message, *_ in response.topic_errors
                if code not in (0, _TOPIC_ALREADY_EXISTS)
            ]
            if errors:
                raise RuntimeError(f"creating Kafka topics failed: {errors}")
        absent = set(wanted) - set(await admin.list_topics())
        if absent:
            raise RuntimeError(f"Kafka topics missing after creation: {sorted(absent)}")

    run_async(lambda: _with_admin(bootstrap, create))


def delete_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Delete ``topics``, best effort: a name the broker never had is skipped, not an error.

    Tests delete what they created so the broker's topic count stays flat over a run: every
    metadata request (each create, each consumer's refresh, SeaweedFS's producer) lists them all.
    """
    wanted = sorted(set(topics))
    if not wanted:
        return

    async def delete(admin: AIOKafkaAdminClient) -> None:
        existing = set(await admin.list_topics())
        present = [t for t in wanted if t in existing]
        if present:
            await admin.delete_topics(present)

    run_async(lambda: _with_admin(bootstrap, delete))


# --- MongoDB ---------------------------------------------------------------


def check_mongo(url: str) -> None:
    """Ping, then commit a two-document transaction and read it back."""
    with pymongo.MongoClient(url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000) as client:
        client.admin.command("ping")
        coll = client["_devplatform"]["readiness"]
        with client.start_session() as session, session.start_transaction():
            coll.replace_one({"_id": "a"}, {"_id": "a"}, upsert=True, session=session)
            coll.replace_one({"_id": "b"}, {"_id": "b"}, upsert=True, session=session)
        if coll.count_documents({"_id": {"$in": ["a", "b"]}}) != 2:
            raise RuntimeError("transaction committed but its documents are not visible")


# --- S3 ----------------------------------------------------------------------


def s3_client(endpoint: str, access_key: str, secret_key: str, region: str = "us-west-2") -> BaseClient:
    """A boto3 S3 client for a local endpoint (path-style, SigV4, no retries)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def cors_rules(origins: Sequence[str]) -> dict:
    """The bucket CORS configuration for browser uploads and downloads from ``origins``."""
    return {
        "CORSRules": [
            {
                "AllowedOrigins": list(origins),
                "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


#: Where clients write with signed forms and temporary upload credentials (upload's `STAGING_PREFIX`).
STAGING_PREFIX = "staging/"


def staging_encryption_policy(bucket: str) -> dict:
    """The bucket policy that makes S3 refuse an unencrypted PUT under ``staging/``: the keys a
    client writes itself with upload's temporary credentials (`POST /uploads/credentials`),
    which, unlike signed forms, carry no policy of their own that could demand the header.

    AWS's own form of this rule is the Deny with ``Null: {"s3:x-amz-server-side-encryption":
    "true"}`` alone (services/upload README, "Encryption at rest"). SeaweedFS 4.48 needs the
    extra ``s3:RequestMethod = PUT``: without it, it refused the IAM-API identities' PUTs even
    when they carried the header, and refused every CompleteMultipartUpload (a POST without the
    header). So here the rule covers PutObject and UploadPart (a part of a multipart upload
    created without encryption is refused); CreateMultipartUpload and signed-form POSTs are
    POSTs, which the form's own signed policy (upload's `form_policy`) already holds to the
    header. Outside ``staging/`` only upload's own writes land, each asking for SSE itself.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyUnencryptedStagingPuts",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{STAGING_PREFIX}*",
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "true"},
                    "StringEquals": {"s3:RequestMethod": "PUT"},
                },
            }
        ],
    }


def create_bucket(s3: BaseClient, bucket: str) -> None:
    """Create ``bucket`` if missing (nothing else: the broker log's bucket)."""
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def ensure_bucket(s3: BaseClient, bucket: str, cors_origins: Sequence[str]) -> None:
    """Create ``bucket`` if missing and (re)apply its CORS rules and its policy
    (:func:`staging_encryption_policy`)."""
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_rules(cors_origins))
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(staging_encryption_policy(bucket)))


def check_s3_object_io(s3: BaseClient, bucket: str) -> None:
    """Prove the store serves data: read an earlier probe if any, then PUT and GET one.

    SeaweedFS answers HTTP before its volumes are loaded; until then reads of existing
    objects fail with "volume N not found".
    """
    try:
        s3.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchKey":
            raise
    # Encrypted at rest like every object DocStore writes (and proof the store does SSE-S3).
    s3.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"ready", ServerSideEncryption="AES256")
    body = s3.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read()
    if body != b"ready":
        raise RuntimeError(f"S3 probe read back {body!r}")


# --- HTTP --------------------------------------------------------------------


def verify_tls() -> ssl.SSLContext:
    """What httpx verifies TLS with by default (`SSL_CERT_FILE`, `SSL_CERT_DIR` or certifi's
    bundle), built once per process and setting: httpx builds it anew for every client, about
    20 ms of CPU, which every poll of a readiness check paid (as
    `docstore_kit.http_transport.shared_ssl_context` does for the services, which this package
    does not depend on)."""
    return _verify_tls(os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))


@functools.lru_cache(maxsize=4)
def _verify_tls(cert_file: str, cert_dir: str) -> ssl.SSLContext:
    return httpx.create_ssl_context()


def check_http_ok(url: str, *, expect_json: dict | None = None, headers: dict | None = None) -> None:
    """GET ``url``: require status 200 and, if given, that the JSON body contains ``expect_json``."""
    response = httpx.get(url, timeout=2.0, headers=headers, verify=verify_tls())
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} -> {response.status_code}")
    if expect_json is not None:
        body = response.json()
        if any(body.get(k) != v for k, v in expect_json.items()):
            raise RuntimeError(f"GET {url} -> {body}")
