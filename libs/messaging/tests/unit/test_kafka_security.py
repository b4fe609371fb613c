"""Kafka security settings become the right client arguments, for every kind of client:
aiokafka consumers/admin clients (`client_kwargs`), the FastStream broker (`faststream_security`,
which FastStream turns into the same arguments), the batch consumer and the dead-letter reader.
PLAINTEXT adds nothing, so local clients are built as before. Nothing here connects."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import MagicMock

import certifi
import pytest
from faststream.kafka.security import parse_security
from pydantic import SecretStr

from docstore_events.uploads import UploadCompleted
from docstore_messaging.batches import BatchConsumer
from docstore_messaging.consumer import GroupMembership
from docstore_messaging.dead_letters import DeadLetters
from docstore_messaging.kafka_security import PLAINTEXT, KafkaSecurity
from docstore_messaging.runtime import EventRuntime

PASSWORD = "s3cret-sasl-password"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    """A PEM file holding exactly one CA certificate (the first of certifi's bundle)."""
    first = re.search(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", Path(certifi.where()).read_text(), re.S
    )
    assert first
    path = tmp_path / "kafka-ca.pem"
    path.write_text(first[0])
    return path


def sasl_ssl(ca_file: Path, mechanism: str = "SCRAM-SHA-512") -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="docstore-upload",
        sasl_password=PASSWORD,
        ssl_cafile=str(ca_file),
    )


def test_plaintext_adds_no_client_argument() -> None:
    assert PLAINTEXT.client_kwargs() == {}
    assert PLAINTEXT.faststream_security() is None
    assert KafkaSecurity.from_settings(SimpleNamespace()) == PLAINTEXT
    assert KafkaSecurity.from_env({}) == PLAINTEXT


def test_sasl_ssl_gives_mechanism_credentials_and_a_verifying_context_with_the_ca(ca_file: Path) -> None:
    kwargs = sasl_ssl(ca_file).client_kwargs()

    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "docstore-upload",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # the CA file, and only it


def test_ssl_without_a_ca_file_uses_the_system_cas() -> None:
    kwargs = KafkaSecurity(protocol="SSL").client_kwargs()

    assert kwargs["security_protocol"] == "SSL"
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "sasl_mechanism" not in kwargs


def test_sasl_plaintext_has_no_tls_context() -> None:
    security = KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password=PASSWORD)

    assert security.client_kwargs() == {
        "security_protocol": "SASL_PLAINTEXT",
        "ssl_context": None,
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": PASSWORD,
    }


@pytest.mark.parametrize("protocol", ["SSL", "SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_the_faststream_broker_gets_the_same_arguments(protocol: str, mechanism: str, ca_file: Path) -> None:
    security = KafkaSecurity(
        protocol=protocol, sasl_mechanism=mechanism, sasl_username="u", sasl_password=PASSWORD, ssl_cafile=str(ca_file)
    )

    direct, via_faststream = security.client_kwargs(), parse_security(security.faststream_security())

    assert set(direct) == set(via_faststream)
    for key in direct:
        if key == "ssl_context":
            assert (direct[key] is None) == (via_faststream[key] is None)
        else:
            assert direct[key] == via_faststream[key], key


def test_a_missing_ca_file_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        KafkaSecurity(protocol="SSL", ssl_cafile=str(tmp_path / "absent.pem")).client_kwargs()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"protocol": "SASL_SSL"}, "username and password"),
        ({"protocol": "SASL_PLAINTEXT", "sasl_username": "u"}, "username and password"),
        ({"protocol": "TLS"}, "not one of"),
        (
            {"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "u", "sasl_password": "p"},
            "not one of",
        ),
    ],
)
def test_incomplete_or_unknown_settings_are_refused(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity(**changes)


def test_the_password_is_not_in_the_repr(ca_file: Path) -> None:
    assert PASSWORD not in repr(sasl_ssl(ca_file))


def test_from_settings_reads_a_secret_password(ca_file: Path) -> None:
    settings = SimpleNamespace(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="docstore-upload",
        kafka_sasl_password=SecretStr(PASSWORD),
        kafka_ssl_cafile=str(ca_file),
    )

    assert KafkaSecurity.from_settings(settings) == sasl_ssl(ca_file)


def test_from_env_reads_the_service_variable_names(ca_file: Path) -> None:
    environ = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "docstore-upload",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CAFILE": str(ca_file),
    }

    assert KafkaSecurity.from_env(environ) == sasl_ssl(ca_file)


async def test_every_client_of_a_runtime_connects_with_its_security(ca_file: Path) -> None:
    """The broker (its producer and FastStream consumers), the batch consumer and the
    dead-letter reader all carry the SASL/TLS settings: none is left on PLAINTEXT."""
    security = sasl_ssl(ca_file)
    runtime = EventRuntime(
        service="upload", region="r", bootstrap_servers="kafka:9093", db=MagicMock(), kafka_security=security
    )

    broker_kwargs = runtime.broker._connection_kwargs
    assert broker_kwargs["security_protocol"] == "SASL_SSL"
    assert broker_kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert broker_kwargs["sasl_plain_username"] == "docstore-upload"
    assert isinstance(broker_kwargs["ssl_context"], ssl.SSLContext)

    async def handle(batch: object) -> None:
        return None

    batch = BatchConsumer(
        bootstrap_servers="kafka:9093",
        security=security,
        handlers={UploadCompleted: handle},
        consumer="quota",
        group_id="quota",
        publish=MagicMock(),
    )
    letters = DeadLetters("kafka:9093", "", security=runtime.kafka_security)
    for client in (batch.kafka._client, letters._consumer()._client):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "docstore-upload"
        assert client._sasl_plain_password == PASSWORD
        assert isinstance(client._ssl_context, ssl.SSLContext)


async def test_a_runtime_built_from_settings_takes_their_security(ca_file: Path) -> None:
    settings = SimpleNamespace(
        service="upload",
        region="r",
        kafka_bootstrap_servers="kafka:9093",
        kafka_topic_prefix="",
        kafka_fetch_max_wait_ms=20,
        kafka_idle_fetch_max_wait_ms=2000,
        kafka_idle_after_seconds=5.0,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=600,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="docstore-upload",
        kafka_sasl_password=SecretStr(PASSWORD),
        kafka_ssl_cafile=str(ca_file),
    )

    runtime = EventRuntime.for_service(settings, MagicMock())

    assert runtime.kafka_security == sasl_ssl(ca_file)
    assert runtime.membership == GroupMembership(session_timeout_ms=2000, heartbeat_interval_ms=600)
    assert runtime.broker._connection_kwargs["security_protocol"] == "SASL_SSL"
