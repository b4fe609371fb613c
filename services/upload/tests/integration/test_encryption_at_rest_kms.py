"""SSE-KMS (`S3_SERVER_SIDE_ENCRYPTION=aws:kms` with `S3_SSE_KMS_KEY_ID`) on a SeaweedFS of its
own whose `-s3.config` turns on its local KMS provider (development only: its master key lives
in memory). Every write path names the key; HEAD reports `aws:kms`; a form whose key id was
changed is refused by S3. SeaweedFS answers SSE-KMS without a key id with an internal error
(its local provider has no account default key), so the key id is given, as DocStore allows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from docstore_devplatform import probes
from docstore_devplatform.launch import ServerPorts, weed_argv, weed_notification_toml, weed_s3_config
from docstore_devplatform.paths import find_binaries
from docstore_devplatform.procs import ManagedProcess
from docstore_kit.s3 import ServerSideEncryption
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant, staging_key

pytestmark = pytest.mark.integration

BUCKET = "docstore-kms"
KEY_ID = "alias/seaweedfs-default"  # the local provider's key
ACCESS, SECRET = "kms-test", "kms-test-secret-key"
KMS_HEADER = "x-amz-server-side-encryption-aws-kms-key-id"


@pytest.fixture(scope="module")
def kms_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An S3 client of a SeaweedFS started with its local KMS, and the bucket made."""
    root: Path = tmp_path_factory.mktemp("weed-kms")
    (root / "data").mkdir()
    config = json.loads(weed_s3_config(ACCESS, SECRET))
    config["kms"] = {"default_provider": "local", "providers": {"local": {"type": "local"}}}
    (root / "s3.json").write_text(json.dumps(config))
    (root / "notification.toml").write_text(weed_notification_toml("", None))  # weed reads it from its cwd
    ports = ServerPorts.auto()
    weed = ManagedProcess(
        "weed-kms", weed_argv(find_binaries(), ports, root / "data", root / "s3.json"), root / "weed.log", cwd=root
    )
    weed.start()
    try:
        s3 = probes.s3_client(f"http://127.0.0.1:{ports.s3}", ACCESS, SECRET)
        deadline = time.monotonic() + 120  # a busy machine: generous
        while True:
            try:
                s3.create_bucket(Bucket=BUCKET)
                probes.check_s3_object_io(s3, BUCKET)
                break
            except (ClientError, BotoCoreError, RuntimeError):
                if time.monotonic() > deadline or not weed.alive():
                    pytest.fail(weed.describe_failure())
                time.sleep(0.5)
        yield s3
    finally:
        weed.stop()


@pytest.fixture
def storage(kms_s3: Any) -> Storage:
    return Storage(kms_s3, kms_s3, BUCKET, encryption=ServerSideEncryption("aws:kms", KEY_ID))


def grant(*, form: bool = True) -> Grant:
    key = f"us-west-2/acct/doc/{uuid.uuid4()}"
    return Grant(
        upload_id=key.rsplit("/", 1)[1],
        account_id="acct",
        document_id="doc",
        key=key,
        filename="secret.txt",
        content_type="text/plain",
        declared_size=5,
        title=None,
        tags=[],
        path="/",
        expires_at=datetime.now(UTC),
        staging_key=staging_key(key) if form else None,
    )


def kms_of(s3: Any, key: str) -> tuple[str | None, str | None]:
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")


async def test_form_copy_and_multipart_are_stored_under_the_kms_key(storage: Storage, kms_s3: Any) -> None:
    g = grant()
    form = storage.post_form(g, max_size=5, expires_in=60)
    assert form["fields"][KMS_HEADER] == KEY_ID
    async with httpx.AsyncClient() as client:
        posted = await client.post(form["url"], data=form["fields"], files={"file": ("f", b"hello")})
        assert posted.status_code == 201, posted.text
    algorithm, key_id = kms_of(kms_s3, g.staging_key)
    assert algorithm == "aws:kms" and key_id  # S3 reports the key's own id for the alias

    assert await storage.copy(g.staging_key, g.key)
    assert kms_of(kms_s3, g.key) == (algorithm, key_id)

    m = grant(form=False)
    s3_upload_id = await storage.start_multipart(m)
    [url] = storage.part_urls(m.key, s3_upload_id, [1], expires_in=60).values()
    async with httpx.AsyncClient() as client:
        assert (await client.put(url, content=b"parts")).status_code == 200
    await storage.finish_multipart(m.key, s3_upload_id, await storage.stored_parts(m.key, s3_upload_id))
    assert kms_of(kms_s3, m.key) == (algorithm, key_id)
    assert kms_s3.get_object(Bucket=BUCKET, Key=m.key)["Body"].read() == b"parts"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({KMS_HEADER: "alias/another"}, id="another-key"),
        pytest.param({"x-amz-server-side-encryption": "AES256"}, id="sse-s3-instead"),
    ],
)
async def test_a_form_with_another_key_or_algorithm_is_refused(storage: Storage, change: dict) -> None:
    g = grant()
    form = storage.post_form(g, max_size=5, expires_in=60)
    async with httpx.AsyncClient() as client:
        refused = await client.post(form["url"], data={**form["fields"], **change}, files={"file": ("f", b"hello")})
    assert refused.status_code == 403, refused.text
    assert not await storage.exists(g.staging_key)
