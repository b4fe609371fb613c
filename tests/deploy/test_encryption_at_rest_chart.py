"""The chart passes the encryption at rest every S3 write asks for (S3_SERVER_SIDE_ENCRYPTION,
S3_SSE_KMS_KEY_ID) to every pod that talks to S3, and refuses settings S3 would not honour."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: no package imports
from deploy_support import REGIONS, helm_template, manifests  # noqa: E402

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
    env = env_of([o for o in yaml.safe_load_all(result.stdout) if o], "docstore-upload")
    assert env["S3_SERVER_SIDE_ENCRYPTION"] == "aws:kms" and env["S3_SSE_KMS_KEY_ID"] == key


def test_none_is_passed_through_for_stores_without_sse() -> None:
    result = helm_template("--set", "s3.serverSideEncryption=none")
    assert result.returncode == 0, result.stderr
    assert (
        env_of([o for o in yaml.safe_load_all(result.stdout) if o], "docstore-upload")["S3_SERVER_SIDE_ENCRYPTION"]
        == "none"
    )


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
