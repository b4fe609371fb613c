"""Server-side encryption settings: one value gives every write's parameters and form fields."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError

from docstore_kit.s3 import SSE_S3, S3Settings, ServerSideEncryption
from docstore_kit.settings import ServiceSettings


class DemoSettings(ServiceSettings, S3Settings):
    service: ClassVar[str] = "demo"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("S3_SERVER_SIDE_ENCRYPTION", "S3_SSE_KMS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"DEMO_{name}", raising=False)


def test_sse_s3_is_the_default() -> None:
    sse = DemoSettings().server_side_encryption()
    assert sse == SSE_S3
    assert sse.params() == {"ServerSideEncryption": "AES256"}
    assert sse.form_fields() == {"x-amz-server-side-encryption": "AES256"}


def test_sse_kms_with_a_key_id_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_SERVER_SIDE_ENCRYPTION", "aws:kms")
    monkeypatch.setenv("S3_SSE_KMS_KEY_ID", "arn:aws:kms:us-west-2:111122223333:key/abcd")
    sse = DemoSettings().server_side_encryption()
    assert sse.params() == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "arn:aws:kms:us-west-2:111122223333:key/abcd",
    }
    assert sse.form_fields() == {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-west-2:111122223333:key/abcd",
    }


def test_sse_kms_without_a_key_id_uses_the_accounts_s3_key() -> None:
    sse = ServerSideEncryption("aws:kms")
    assert sse.params() == {"ServerSideEncryption": "aws:kms"}
    assert sse.form_fields() == {"x-amz-server-side-encryption": "aws:kms"}


def test_none_asks_for_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_S3_SERVER_SIDE_ENCRYPTION", "none")
    sse = DemoSettings().server_side_encryption()
    assert not sse.enabled
    assert sse.params() == {} and sse.form_fields() == {}


@pytest.mark.parametrize("value", ["aes256", "AES-256", "kms", "off", ""])
def test_an_unknown_algorithm_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("S3_SERVER_SIDE_ENCRYPTION", value)
    with pytest.raises(ValidationError, match="s3_server_side_encryption"):
        DemoSettings()


def test_a_key_id_without_kms_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_SSE_KMS_KEY_ID", "alias/docstore")
    with pytest.raises(ValidationError, match="only used with S3_SERVER_SIDE_ENCRYPTION=aws:kms"):
        DemoSettings()
