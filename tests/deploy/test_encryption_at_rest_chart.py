"""The chart passes the encryption at rest every S3 write asks for (S3_SERVER_SIDE_ENCRYPTION,
S3_SSE_KMS_KEY_ID) to every pod that talks to S3, and refuses settings S3 would not honour;
the init job sets the bucket's default encryption to match (a belt to the services' braces)."""

from __future__ import annotations

import importlib.util
import uuid
from types import ModuleType

import boto3
import pytest
from botocore.config import Config
from deploy_support import CHART, REGIONS, helm_template, manifests, parse_manifests

S3_USERS = ("docstore-upload", "docstore-metadata", "docstore-quota", "docstore-indexer", "docstore-gateway")


def env_of(objects: list[dict], name: str) -> dict[str, str | None]:
    found = next(o for o in objects if o["kind"] in ("Deployment", "Job") and o["metadata"]["name"] == name)
    return {e["name"]: e.get("value") for e in found["spec"]["template"]["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("region", REGIONS)
def test_sse_s3_is_the_default_for_every_pod_that_writes_or_reads_s3(region: str) -> None:
    objects = manifests(region)
    for name in S3_USERS:
        env = env_of(objects, name)
        assert env["S3_SERVER_SIDE_ENCRYPTION"] == "AES256", name
        assert env["S3_SSE_KMS_KEY_ID"] == "", name


def test_sse_kms_with_a_key_id() -> None:
    key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = helm_template("--set", "s3.serverSideEncryption=aws:kms", "--set", f"s3.sseKmsKeyId={key}")
    assert result.returncode == 0, result.stderr
    env = env_of(parse_manifests(result.stdout), "docstore-upload")
    assert env["S3_SERVER_SIDE_ENCRYPTION"] == "aws:kms" and env["S3_SSE_KMS_KEY_ID"] == key


def test_none_is_passed_through_for_stores_without_sse() -> None:
    result = helm_template("--set", "s3.serverSideEncryption=none")
    assert result.returncode == 0, result.stderr
    assert env_of(parse_manifests(result.stdout), "docstore-upload")["S3_SERVER_SIDE_ENCRYPTION"] == "none"


@pytest.mark.parametrize(
    "values",
    [
        ["s3.serverSideEncryption=aes256"],  # not a value S3 knows
        ["s3.serverSideEncryption=kms"],
        ["s3.sseKmsKeyId=alias/docstore"],  # a key id with SSE-S3 would be ignored: refused instead
    ],
)
def test_settings_s3_would_not_honour_are_refused(values: list[str]) -> None:
    args = [arg for value in values for arg in ("--set", value)]
    assert helm_template(*args).returncode != 0


# --- the init job's belt: the bucket's default encryption ---------------------------------


@pytest.fixture
def init() -> ModuleType:
    spec = importlib.util.spec_from_file_location("init_platform", CHART / "files" / "init_platform.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.TIMEOUT = 20.0  # type: ignore[attr-defined]  # a failing step gives up quickly
    return module


def test_bucket_default_encryption_follows_the_setting(init: ModuleType) -> None:
    assert init.bucket_encryption("AES256") == {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
    }
    assert init.bucket_encryption("aws:kms", "alias/docstore") == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/docstore"},
                "BucketKeyEnabled": True,
            }
        ]
    }
    assert init.bucket_encryption("none") is None


@pytest.mark.integration
def test_init_sets_the_buckets_default_encryption_on_seaweedfs(
    init: ModuleType, endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The belt alone: an object written without asking is still encrypted in a bucket init made."""
    bucket = f"docstore-sse-{uuid.uuid4().hex[:10]}"
    for name, value in {
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": endpoints.s3_endpoint,
        "AWS_ACCESS_KEY_ID": endpoints.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": endpoints.s3_secret_key,
        "AWS_DEFAULT_REGION": "us-west-2",
        "S3_SERVER_SIDE_ENCRYPTION": "AES256",
    }.items():
        monkeypatch.setenv(name, value)
    init.create_bucket()

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name="us-west-2",
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    try:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        s3.put_object(Bucket=bucket, Key="unasked", Body=b"x")  # no ServerSideEncryption
        assert s3.head_object(Bucket=bucket, Key="unasked").get("ServerSideEncryption") == "AES256"
    finally:
        s3.delete_object(Bucket=bucket, Key="unasked")
        s3.delete_bucket(Bucket=bucket)
