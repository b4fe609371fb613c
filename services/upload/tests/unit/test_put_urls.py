"""A pinned grant's presigned PUT, signed by `PutSigner` (botocore's S3 query signer on a request
built by the adapter), is exactly the URL and headers the client's `generate_presigned_url` gives,
for every encryption, key, content type, endpoint and kind of credentials (no network: signing is
pure, the clock is fixed)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.config import Config

from docstore_kit.s3 import ServerSideEncryption
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant

SHA = hashlib.sha256(b"data").hexdigest()


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = dt.datetime(2026, 12, 1, 3, 4, 5)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: moment)


def client(endpoint: str | None = "http://127.0.0.1:8333", region: str = "us-west-2", **credentials: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret/key+1", region_name=region, **credentials
    )
    return session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def grant(key: str = "us-west-2/acc-1/doc-1/up-1", content_type: str = "text/plain", **fields: Any) -> Grant:
    return Grant(
        upload_id="up-1",
        account_id="acc-1",
        document_id="doc-1",
        key=key,
        filename=fields.pop("filename", "a.txt"),
        content_type=content_type,
        declared_size=4,
        title=fields.pop("title", None),
        tags=fields.pop("tags", []),
        path="/",
        expires_at=dt.datetime(2026, 12, 1, 4, tzinfo=dt.UTC),
        pinned_sha256=SHA,
        **fields,
    )


def both_ways(storage: Storage, g: Grant) -> tuple[Any, Any]:
    quick = storage.put_url(g, expires_in=900)
    storage.put_signer.usable = False
    try:
        by_client = storage.put_url(g, expires_in=900)
    finally:
        storage.put_signer.usable = True
    return quick, by_client


@pytest.mark.parametrize(
    "encryption",
    [ServerSideEncryption("AES256"), ServerSideEncryption("aws:kms", "alias/docstore"), ServerSideEncryption("none")],
    ids=["sse-s3", "sse-kms", "none"],
)
@pytest.mark.parametrize(
    "g",
    [
        grant(),
        grant(key="us-west-2/acc 1/doc~1/ü+x=y&z%20", filename="ü ber & so.pdf", title="Q3 / plan", tags=["a b", "c"]),
        grant(content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ],
    ids=["plain", "quoted", "office"],
)
def test_the_quick_signature_is_the_clients(encryption: ServerSideEncryption, g: Grant) -> None:
    storage = Storage(None, client(), "docstore-us-west-2", encryption=encryption)
    quick, by_client = both_ways(storage, g)
    assert quick is not None and quick == by_client


@pytest.mark.parametrize(
    "signer",
    [
        client(endpoint=None),
        client(endpoint="https://s3.example.test:9000/"),
        client(region="ap-southeast-2"),
        client(aws_session_token="FwoGZXIvYXdzE+token/="),
    ],
    ids=["aws", "trailing-slash", "other-region", "session-token"],
)
def test_every_endpoint_region_and_credential_kind_signs_as_the_client(signer: Any) -> None:
    quick, by_client = both_ways(Storage(None, signer, "docstore-b"), grant())
    assert quick is not None and quick == by_client


def test_what_the_quick_signer_cannot_sign_as_asked_is_left_to_the_client() -> None:
    # botocore drops this content type from a presigned URL's signed headers: the PUT would not be
    # held to it, so neither way hands out a URL (only a form pins the bytes).
    storage = Storage(None, client(), "docstore-us-west-2")
    g = grant(content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert storage.put_signer.url("docstore-us-west-2", g.key, {"Content-Type": g.content_type}, expires_in=60) is None
    assert both_ways(storage, g) == (None, None)
    virtual = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-west-2").client(
        "s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
    )
    assert not Storage(None, virtual, "docstore-us-west-2").put_signer.usable
