"""The platform init script (deploy/k8s/docstore/files/init_platform.py, run by the chart's
hook Job and compose's `init`): topic settings from the environment, the bucket's region,
and the Kafka security it shares with the services.

The pure parts are tested directly; the bucket is created on the test platform's AWS
stand-in (moto), which, like AWS, refuses a bucket outside us-east-1 without a
LocationConstraint; the topics on its Kafka broker.
"""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from types import ModuleType

import boto3
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from deploy_support import CHART

SCRIPT = CHART / "files" / "init_platform.py"
PRODUCTION = {
    "KAFKA_PARTITIONS": "6",
    "KAFKA_REPLICATION_FACTOR": "3",
    "KAFKA_TOPIC_RETENTION_MS": "604800000",
    "KAFKA_DLQ_RETENTION_MS": "2592000000",
    "KAFKA_MIN_INSYNC_REPLICAS": "2",
}


@pytest.fixture
def init() -> ModuleType:
    spec = importlib.util.spec_from_file_location("init_platform", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.TIMEOUT = 20.0  # type: ignore[attr-defined]  # a failing step gives up quickly
    return module


def test_local_defaults_create_topics_with_the_brokers_settings(init: ModuleType) -> None:
    plan = init.topic_plan({"KAFKA_TOPIC_PREFIX": "p."})

    assert plan and all(spec["name"].startswith("p.docstore.") for spec in plan)
    assert {(spec["num_partitions"], spec["replication_factor"]) for spec in plan} == {(3, 1)}
    assert all(spec["topic_configs"] == {} for spec in plan)


def test_production_topic_settings_reach_every_topic(init: ModuleType) -> None:
    plan = init.topic_plan(PRODUCTION)

    events = [spec for spec in plan if not spec["name"].endswith(".dlq")]
    letters = [spec for spec in plan if spec["name"].endswith(".dlq")]
    assert events and len(letters) == len(events)
    assert {(spec["num_partitions"], spec["replication_factor"]) for spec in plan} == {(6, 3)}
    assert all(s["topic_configs"] == {"retention.ms": "604800000", "min.insync.replicas": "2"} for s in events)
    assert all(s["topic_configs"] == {"retention.ms": "2592000000", "min.insync.replicas": "2"} for s in letters)


def test_dead_letters_keep_the_topic_retention_unless_told(init: ModuleType) -> None:
    environ = {"KAFKA_TOPIC_RETENTION_MS": "86400000"}
    assert init.topic_configs(environ, dead_letter=True) == {"retention.ms": "86400000"}


def test_min_insync_replicas_above_the_replication_factor_is_refused(init: ModuleType) -> None:
    with pytest.raises(SystemExit, match="exceeds KAFKA_REPLICATION_FACTOR"):
        init.topic_plan({**PRODUCTION, "KAFKA_MIN_INSYNC_REPLICAS": "4"})


def test_config_drift_names_what_differs(init: ModuleType) -> None:
    wanted = {"retention.ms": "604800000", "min.insync.replicas": "2"}
    actual = {"retention.ms": "86400000", "min.insync.replicas": "2", "cleanup.policy": "delete"}
    assert init.config_drift(wanted, actual) == {"retention.ms": ("86400000", "604800000")}
    assert init.config_drift(wanted, {**actual, "retention.ms": "604800000"}) == {}


@pytest.mark.parametrize(
    ("region", "arguments"),
    [
        ("us-east-1", {}),
        ("us-west-2", {"CreateBucketConfiguration": {"LocationConstraint": "us-west-2"}}),
        ("ap-southeast-2", {"CreateBucketConfiguration": {"LocationConstraint": "ap-southeast-2"}}),
    ],
)
def test_the_bucket_is_created_in_its_region(init: ModuleType, region: str, arguments: dict) -> None:
    assert init.bucket_location(region) == arguments


@pytest.mark.integration
@pytest.mark.parametrize("region", ["ap-southeast-2", "us-east-1"])
def test_create_bucket_succeeds_where_aws_checks_the_location(
    init: ModuleType, endpoints, monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    bucket = f"docstore-init-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("S3_BUCKET", bucket)
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoints.aws_endpoint)
    monkeypatch.setenv("S3_CORS_ORIGINS", "https://docstore.example")

    init.create_bucket()

    s3 = boto3.client("s3", endpoint_url=endpoints.aws_endpoint, region_name=region)
    location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert (location or "us-east-1") == region
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://docstore.example"]


@pytest.mark.integration
def test_create_bucket_without_the_location_is_what_aws_refuses(endpoints) -> None:
    """The stand-in does refuse, so the test above can fail."""
    s3 = boto3.client("s3", endpoint_url=endpoints.aws_endpoint, region_name="ap-southeast-2")
    with pytest.raises(s3.exceptions.ClientError, match="IllegalLocationConstraint"):
        s3.create_bucket(Bucket=f"docstore-init-{uuid.uuid4().hex[:10]}")


@pytest.mark.integration
def test_create_topics_creates_every_topic_with_its_partitions(
    init: ModuleType, endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"init{uuid.uuid4().hex[:8]}."
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", endpoints.kafka_bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("KAFKA_PARTITIONS", "2")

    init.create_topics()
    init.create_topics()  # idempotent: what exists is left alone

    async def describe() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(prefix)]
            described = await admin.describe_topics(names)
            return {t["topic"]: len(t["partitions"]) for t in described}
        finally:
            await admin.close()

    partitions = asyncio.run(describe())
    assert sorted(partitions) == [spec["name"] for spec in init.topic_plan({"KAFKA_TOPIC_PREFIX": prefix})]
    assert set(partitions.values()) == {2}
