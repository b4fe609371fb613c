"""Temporary upload credentials, enforced by the real S3 server (SeaweedFS, its IAM API) and
recorded in real MongoDB: they write only under the account's staging prefix, read and delete
nothing, and stop working once the sweeper ends them; what was written under the prefix outside
any pending grant is deleted then, what a pending upload owns stays. Every write with them is
encrypted at rest: S3 refuses a PUT without the encryption header the credentials name (the
bucket's policy, set by the dev platform as the init job or Terraform sets it on AWS)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import pytest_asyncio
from botocore.config import Config
from botocore.exceptions import ClientError
from pymongo import AsyncMongoClient

from docstore_devplatform.testing import eventually
from docstore_kit.s3 import S3Settings, ServerSideEncryption, make_s3_client
from docstore_messaging.outbox import Outbox
from docstore_messaging.unit_of_work import MongoUnitOfWork
from docstore_upload.adapters.credentials import CredentialRecords, SeaweedFSIdentities, StagingListing
from docstore_upload.adapters.sessions import UploadSessions
from docstore_upload.domain.grants import Grant, object_key, staging_key
from docstore_upload.service_layer.credentials import IssuedCredentials, UploadCredentials

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"
REGION = "us-west-2"
SSE_S3 = ServerSideEncryption("AES256")  # what the upload service runs with locally
ENCRYPTED = SSE_S3.params()  # boto3's spelling of the header: {"ServerSideEncryption": "AES256"}


@pytest_asyncio.fixture
async def world(endpoints, isolated) -> AsyncIterator[dict[str, Any]]:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"])
    db = mongo[isolated["mongodb_database"]]
    admin = make_s3_client(S3Settings(s3_endpoint_url=endpoints.s3_endpoint))
    iam = boto3.client("iam", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    sessions = UploadSessions(db)
    records = CredentialRecords(db)
    await records.ensure_indexes()
    outbox = Outbox(db, source="/docstore/upload")
    uow = MongoUnitOfWork(mongo, db, outbox, lambda _session: None)

    def service(lifetime: timedelta) -> UploadCredentials:
        return UploadCredentials(
            uow,
            SeaweedFSIdentities(iam),
            records,
            StagingListing(admin, BUCKET),
            sessions,
            bucket=BUCKET,
            region=REGION,
            endpoint=endpoints.s3_endpoint,
            lifetime=lifetime,
            required_headers=SSE_S3.form_fields(),
        )

    made: list[UploadCredentials] = []

    def build(lifetime: timedelta = timedelta(minutes=15)) -> UploadCredentials:
        made.append(service(lifetime))
        return made[-1]

    try:
        yield {"build": build, "admin": admin, "sessions": sessions, "records": records, "iam": iam, "outbox": outbox}
    finally:
        # Leave no identity behind on the shared server.
        async for row in records.collection.find({"revoked_at": None}):
            await SeaweedFSIdentities(iam).revoke(row["identity"])
        await mongo.aclose()


def client_with(issued: IssuedCredentials) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=issued.endpoint,
        region_name=issued.scope.region,
        aws_access_key_id=issued.keys.access_key_id,
        aws_secret_access_key=issued.keys.secret_access_key,
        aws_session_token=issued.keys.session_token,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def error_code(call: Any, **kwargs: Any) -> str | None:
    """None when S3 did it, else its error code (AccessDenied, InvalidAccessKeyId...)."""
    try:
        call(**kwargs)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


async def put(client: Any, key: str, body: bytes = b"hello", *, encrypted: bool = True) -> str | None:
    """PUT as a client that follows the credentials' `required_headers` (or, unencrypted, one that does not)."""
    extra = ENCRYPTED if encrypted else {}
    return await asyncio.to_thread(error_code, client.put_object, Bucket=BUCKET, Key=key, Body=body, **extra)


async def works(client: Any, key: str) -> bool:
    """The PUT is accepted (a new identity may take a moment to be known to every S3 handler)."""
    return await put(client, key) is None


def pending_grant(account: str) -> Grant:
    upload_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())
    key = object_key(region=REGION, account_id=account, document_id=document_id, upload_id=upload_id)
    return Grant(
        upload_id=upload_id,
        account_id=account,
        document_id=document_id,
        key=key,
        filename="a.txt",
        content_type="text/plain",
        declared_size=5,
        title=None,
        tags=[],
        path="/",
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        staging_key=staging_key(key),
    )


async def test_credentials_write_only_under_the_accounts_staging_prefix(world) -> None:
    mine, theirs = f"acct-{uuid.uuid4().hex[:12]}", f"acct-{uuid.uuid4().hex[:12]}"
    issued = await world["build"]().issue(mine)
    assert issued.scope.prefix == f"staging/{REGION}/{mine}/"
    assert issued.keys.session_token is None and issued.expires_at > datetime.now(UTC)
    client, admin = client_with(issued), world["admin"]
    inside = f"{issued.scope.prefix}{uuid.uuid4()}/{uuid.uuid4()}"
    await eventually(lambda: works(client, inside), timeout=60)

    # Another account's objects, a final (served) key, and mine outside the staging prefix exist.
    their_staged = f"staging/{REGION}/{theirs}/doc/upl"
    their_final = f"{REGION}/{theirs}/doc/upl"
    my_final = f"{REGION}/{mine}/doc/upl"
    for key in (their_staged, their_final, my_final):
        admin.put_object(Bucket=BUCKET, Key=key, Body=b"original", **ENCRYPTED)

    refused = {
        "another account's prefix": their_staged,
        "another account's new key": f"staging/{REGION}/{theirs}/new",
        "the bucket root": "root.txt",
        "a final document key": my_final,
        "a sibling whose name starts like mine": f"staging/{REGION}/{mine}x/doc",
        "the staging root": "staging/other",
    }
    for what, key in refused.items():
        assert await put(client, key, b"overwritten") == "AccessDenied", what
    for key in (their_staged, their_final, my_final):
        assert admin.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"original"

    # Nothing to read, list or delete: not others' objects, not even its own.
    for key in (their_final, their_staged, my_final, inside):
        assert await asyncio.to_thread(error_code, client.get_object, Bucket=BUCKET, Key=key) == "AccessDenied"
        assert await asyncio.to_thread(error_code, client.delete_object, Bucket=BUCKET, Key=key) == "AccessDenied"
    assert (
        await asyncio.to_thread(error_code, client.list_objects_v2, Bucket=BUCKET, Prefix=issued.scope.prefix)
        == "AccessDenied"
    )
    assert admin.get_object(Bucket=BUCKET, Key=inside)["Body"].read() == b"hello"


async def test_a_multipart_upload_inside_the_prefix_works(world) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    issued = await world["build"]().issue(account)
    client = client_with(issued)
    await eventually(lambda: works(client, f"{issued.scope.prefix}probe"), timeout=60)
    key = f"{issued.scope.prefix}doc/big"
    started = client.create_multipart_upload(Bucket=BUCKET, Key=key, **ENCRYPTED)
    part = client.upload_part(Bucket=BUCKET, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=b"x" * 100)
    assert [
        p["PartNumber"] for p in client.list_parts(Bucket=BUCKET, Key=key, UploadId=started["UploadId"])["Parts"]
    ] == [1]
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    head = world["admin"].head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == 100 and head.get("ServerSideEncryption") == "AES256"
    other = f"staging/{REGION}/someone-else/doc/big"
    assert (
        await asyncio.to_thread(error_code, client.create_multipart_upload, Bucket=BUCKET, Key=other, **ENCRYPTED)
        == "AccessDenied"
    )
    # A multipart upload started without encryption may be created, but S3 takes none of its parts.
    plain = f"{issued.scope.prefix}doc/plain-big"
    unencrypted = client.create_multipart_upload(Bucket=BUCKET, Key=plain)
    refused = await asyncio.to_thread(
        error_code,
        client.upload_part,
        Bucket=BUCKET,
        Key=plain,
        UploadId=unencrypted["UploadId"],
        PartNumber=1,
        Body=b"x" * 100,
    )
    assert refused == "AccessDenied"
    client.abort_multipart_upload(Bucket=BUCKET, Key=plain, UploadId=unencrypted["UploadId"])


async def test_what_the_credentials_write_is_encrypted_and_an_unencrypted_put_is_refused(world) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    issued = await world["build"]().issue(account)
    assert issued.required_headers == {"x-amz-server-side-encryption": "AES256"}
    client, admin = client_with(issued), world["admin"]
    key = f"{issued.scope.prefix}{uuid.uuid4()}/{uuid.uuid4()}"
    await eventually(lambda: works(client, key), timeout=60)  # the identity is known: refusals below are S3's rule
    head = await asyncio.to_thread(admin.head_object, Bucket=BUCKET, Key=key)
    assert head.get("ServerSideEncryption") == "AES256"

    # The same credentials, the same prefix, without the header: refused, and nothing stored.
    plain = f"{issued.scope.prefix}{uuid.uuid4()}/{uuid.uuid4()}"
    assert await put(client, plain, b"in the clear", encrypted=False) == "AccessDenied"
    assert await asyncio.to_thread(error_code, admin.head_object, Bucket=BUCKET, Key=plain) is not None
    assert await put(client, key, b"overwrite in the clear", encrypted=False) == "AccessDenied"
    assert admin.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"hello"
    # The rule is the bucket's, not the identity's: not even the admin key writes staging in the clear.
    assert await put(admin, plain, b"in the clear", encrypted=False) == "AccessDenied"
    # Control: outside staging (where only upload's own writes land, each asking for SSE), a plain
    # PUT is stored, and in the clear: HEAD reports what was asked, not a bucket-wide default.
    outside = f"test/plain/{uuid.uuid4()}"
    assert await put(admin, outside, b"control", encrypted=False) is None
    assert (await asyncio.to_thread(admin.head_object, Bucket=BUCKET, Key=outside)).get("ServerSideEncryption") is None


async def test_expired_credentials_are_refused_and_strays_under_the_prefix_deleted(world) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    credentials = world["build"](timedelta(seconds=3))
    grant = pending_grant(account)
    await world["sessions"].add(grant)
    issued = await credentials.issue(account)
    client = client_with(issued)
    stray = f"{issued.scope.prefix}not-granted/{uuid.uuid4()}"
    await eventually(lambda: works(client, stray), timeout=60)
    assert await put(client, grant.staging_key or "", b"hello") is None  # the pending grant's own key
    assert (await world["records"].get(issued.credential_id))["access_key_id"] == issued.keys.access_key_id

    async def swept() -> bool:
        await credentials.sweep_once(timedelta(seconds=30))
        row = await world["records"].get(issued.credential_id)
        return row["revoked_at"] is not None

    await eventually(swept, timeout=60, interval=0.5)

    async def refused() -> bool:
        return await put(client, f"{issued.scope.prefix}after-expiry") in ("InvalidAccessKeyId", "AccessDenied")

    await eventually(refused, timeout=60)
    assert await asyncio.to_thread(error_code, world["admin"].head_object, Bucket=BUCKET, Key=stray) is not None
    kept = world["admin"].get_object(Bucket=BUCKET, Key=grant.staging_key)
    assert kept["Body"].read() == b"hello"  # a pending upload's bytes stay for its completion
    # Both facts went out through the outbox, in the same transactions as the rows; no secret.
    rows = [r async for r in world["outbox"].collection.find({})]
    types = [r["headers"].get("ce_type") if isinstance(r.get("headers"), dict) else None for r in rows]
    assert issued.keys.secret_access_key not in repr(rows)
    assert len(rows) == 2, types
    # Ending it twice is harmless (the sweeper may be taken over after a crash).
    await SeaweedFSIdentities(world["iam"]).revoke(f"docstore-upload-{issued.credential_id}")


async def test_credentials_not_yet_expired_are_not_swept(world) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    credentials = world["build"]()
    issued = await credentials.issue(account)
    client = client_with(issued)
    await eventually(lambda: works(client, f"{issued.scope.prefix}probe"), timeout=60)
    while await credentials.sweep_once(timedelta(seconds=30)):
        pass  # other tests' expired ones, if any
    assert (await world["records"].get(issued.credential_id))["revoked_at"] is None
    assert await put(client, f"{issued.scope.prefix}still") is None
