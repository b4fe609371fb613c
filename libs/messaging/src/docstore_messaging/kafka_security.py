"""How every Kafka client of a service authenticates and encrypts: one value, many clients.

`KafkaSecurity` holds the `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*` and `KAFKA_SSL_CAFILE`
settings. Each place that opens a Kafka connection (the FastStream broker, the batch
consumer, the dead-letter reader, admin clients, the platform init script) takes its
arguments from here, so no client can be left on PLAINTEXT by mistake:

    security = KafkaSecurity.from_settings(settings)
    AIOKafkaConsumer(..., **security.client_kwargs())
    KafkaBroker(..., security=security.faststream_security())

PLAINTEXT (the default, local development) adds no argument at all, so local clients are
built exactly as before. The password is kept out of `repr` and never logged.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_FASTSTREAM_SASL: Final = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


@dataclass(frozen=True)
class KafkaSecurity:
    """Security protocol, SASL credentials and CA bundle of a service's Kafka connections."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: str = ""
    """PEM bundle of the CAs that sign the brokers' certificates; empty: the system's CAs."""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"kafka security protocol {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if self.uses_sasl:
            if self.sasl_mechanism not in MECHANISMS:
                raise ValueError(f"kafka SASL mechanism {self.sasl_mechanism!r} is not one of {', '.join(MECHANISMS)}")
            if not self.sasl_username or not self.sasl_password:
                raise ValueError(f"kafka security protocol {self.protocol} needs a SASL username and password")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_settings(cls, settings: Any) -> KafkaSecurity:
        """From a docstore_kit `ServiceSettings` (`kafka_security_protocol`, `kafka_sasl_*`,
        `kafka_ssl_cafile`); settings without those fields mean PLAINTEXT."""
        password = getattr(settings, "kafka_sasl_password", "")
        if hasattr(password, "get_secret_value"):  # pydantic SecretStr
            password = password.get_secret_value()
        return cls(
            protocol=getattr(settings, "kafka_security_protocol", "PLAINTEXT"),
            sasl_mechanism=getattr(settings, "kafka_sasl_mechanism", "PLAIN"),
            sasl_username=getattr(settings, "kafka_sasl_username", ""),
            sasl_password=password,
            ssl_cafile=getattr(settings, "kafka_ssl_cafile", ""),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KafkaSecurity:
        """From the environment variables the services read (for scripts without settings)."""
        return cls(
            protocol=environ.get("KAFKA_SECURITY_PROTOCOL", "") or "PLAINTEXT",
            sasl_mechanism=environ.get("KAFKA_SASL_MECHANISM", "") or "PLAIN",
            sasl_username=environ.get("KAFKA_SASL_USERNAME", ""),
            sasl_password=environ.get("KAFKA_SASL_PASSWORD", ""),
            ssl_cafile=environ.get("KAFKA_SSL_CAFILE", ""),
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context (hostname checked) for SSL and SASL_SSL; None otherwise.
        A missing or unreadable CA file fails here, at start-up, not at the first fetch."""
        if not self.uses_tls:
            return None
        context: ssl.SSLContext = create_ssl_context(cafile=self.ssl_cafile or None)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `AIOKafkaConsumer`, `AIOKafkaProducer` and `AIOKafkaAdminClient`:
        empty for PLAINTEXT, so local clients keep aiokafka's defaults."""
        if self.protocol == "PLAINTEXT":
            return {}
        kwargs: dict[str, Any] = {"security_protocol": self.protocol, "ssl_context": self.ssl_context()}
        if self.uses_sasl:
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return kwargs

    def faststream_security(self) -> BaseSecurity | None:
        """The same settings as FastStream's `security=` object for `KafkaBroker` (which turns it
        into the same aiokafka arguments and declares it in the AsyncAPI document)."""
        if self.protocol == "PLAINTEXT":
            return None
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True)
        sasl = _FASTSTREAM_SASL[self.sasl_mechanism]
        return sasl(self.sasl_username, self.sasl_password, ssl_context=context, use_ssl=self.uses_tls)


PLAINTEXT: Final = KafkaSecurity()
"""No authentication, no TLS: the local default."""
