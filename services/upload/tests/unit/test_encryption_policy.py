"""The signed POST form's policy asks S3 to encrypt at rest, and binds that to the form."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import boto3
from botocore.config import Config

from docstore_kit.s3 import SSE_S3, ServerSideEncryption
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant, form_policy

GRANT = Grant(
    upload_id="u1",
    account_id="acct",
    document_id="doc",
    key="us-west-2/acct/doc/u1",
    filename="Résumé.pdf",
    content_type="application/pdf",
    declared_size=10,
    title=None,
    tags=["b", "a"],
    path="/",
    expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    staging_key="staging/us-west-2/acct/doc/u1",
)


def test_every_form_field_is_an_exact_condition_including_the_encryption() -> None:
    fields, conditions = form_policy(GRANT, max_size=10, encryption_fields=SSE_S3.form_fields())
    assert fields["x-amz-server-side-encryption"] == "AES256"
    assert {"x-amz-server-side-encryption": "AES256"} in conditions
    assert [{name: value} for name, value in fields.items()] == conditions[:-1]
    assert conditions[-1] == ["content-length-range", 0, 10]  # an empty file is a file (issue 34)


def test_kms_forms_bind_the_key_id_too() -> None:
    sse = ServerSideEncryption("aws:kms", "alias/docstore")
    fields, conditions = form_policy(GRANT, max_size=10, encryption_fields=sse.form_fields(), redirect_url="https://x")
    assert fields["x-amz-server-side-encryption"] == "aws:kms"
    assert {"x-amz-server-side-encryption-aws-kms-key-id": "alias/docstore"} in conditions
    assert {"success_action_redirect": "https://x"} in conditions


def test_no_encryption_field_when_it_is_off() -> None:
    fields, conditions = form_policy(GRANT, max_size=10, encryption_fields=ServerSideEncryption("none").form_fields())
    assert not any(name.startswith("x-amz-server-side-encryption") for name in fields)
    assert not any("x-amz-server-side-encryption" in c for c in conditions if isinstance(c, dict))


def _signer() -> object:
    # Signing is local: no request is sent.
    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-west-2",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def test_the_signed_policy_carries_the_encryption_condition() -> None:
    signer = _signer()
    storage = Storage(signer, signer, "bucket")  # SSE-S3 unless told otherwise
    form = storage.post_form(GRANT, max_size=10, expires_in=60)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert form["fields"]["x-amz-server-side-encryption"] == "AES256"
    assert {"x-amz-server-side-encryption": "AES256"} in policy["conditions"]
    assert {"key": GRANT.staging_key} in policy["conditions"]


def test_the_configured_kms_key_is_what_gets_signed() -> None:
    signer = _signer()
    storage = Storage(signer, signer, "bucket", encryption=ServerSideEncryption("aws:kms", "alias/k"))
    policy = json.loads(base64.b64decode(storage.post_form(GRANT, max_size=10, expires_in=60)["fields"]["policy"]))
    assert {"x-amz-server-side-encryption": "aws:kms"} in policy["conditions"]
    assert {"x-amz-server-side-encryption-aws-kms-key-id": "alias/k"} in policy["conditions"]
