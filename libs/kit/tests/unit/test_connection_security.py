"""Kafka SASL/TLS and MongoDB CA settings, read from the environment the chart sets, become
the arguments of the service's clients; the defaults keep local PLAINTEXT clients as they
were. Nothing here connects."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import ClassVar

import certifi
import pytest
from pydantic import ValidationError

from docstore_kit.app import mongo_client
from docstore_kit.settings import ServiceSettings, mongodb_client_options
from docstore_messaging.kafka_security import KafkaSecurity

PASSWORD = "s3cret-sasl-password"
VARIABLES = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "MONGODB_TLS_CA_FILE",
)


class DemoSettings(ServiceSettings):
    service: ClassVar[str] = "demo"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"DEMO_{name}", raising=False)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    """A PEM file holding exactly one CA certificate (the first of certifi's bundle)."""
    first = re.search(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", Path(certifi.where()).read_text(), re.S
    )
    assert first
    path = tmp_path / "ca.pem"
    path.write_text(first[0])
    return path


def test_the_defaults_add_no_client_argument() -> None:
    settings = DemoSettings()

    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert KafkaSecurity.from_settings(settings).client_kwargs() == {}
    assert KafkaSecurity.from_settings(settings).faststream_security() is None
    assert mongodb_client_options(settings) == {}


def test_sasl_ssl_from_the_environment_becomes_the_kafka_client_arguments(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "shared-user")
    monkeypatch.setenv("DEMO_KAFKA_SASL_USERNAME", "docstore-demo")  # per service wins
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca_file))

    settings = DemoSettings()
    kwargs = KafkaSecurity.from_settings(settings).client_kwargs()

    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "docstore-demo",
        "sasl_plain_password": PASSWORD,
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and len(context.get_ca_certs()) == 1
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"},
            "needs kafka_sasl_username and kafka_sasl_password",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "kafka_security_protocol"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_incomplete_or_unknown_kafka_security_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], message: str
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        DemoSettings()


async def test_a_mongodb_ca_file_makes_the_client_verify_tls_with_it(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    monkeypatch.setenv("MONGODB_TLS_CA_FILE", str(ca_file))
    settings = DemoSettings()

    assert mongodb_client_options(settings) == {"tlsCAFile": str(ca_file)}
    client = mongo_client(settings)
    try:
        context = client.options.pool_options._ssl_context
        assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
        assert len(context.get_ca_certs()) == 1
    finally:
        await client.close()


async def test_without_a_ca_file_the_mongodb_client_is_unchanged() -> None:
    client = mongo_client(DemoSettings())
    try:
        assert client.options.pool_options._ssl_context is None
    finally:
        await client.close()
