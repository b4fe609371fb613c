"""The settings base every service's `Settings` derives from.

Each field reads a per-service environment variable first, then the shared one:
`UPLOAD_KAFKA_BOOTSTRAP_SERVERS` wins over `KAFKA_BOOTSTRAP_SERVERS` for `upload`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from docstore_kit.auth import DEV_KEY_ID, DEV_KEYS, parse_keys

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev-secret"})


BACKGROUND_FETCH_MAX_WAIT_MS = 240
"""The fetch wait while events flow of a consumer no person waits on (the audit, analytics,
notify), where the others use `kafka_fetch_max_wait_ms` (20 ms). Such a consumer reads many
topics, and Tansu (local) re-reads each partition a waiting fetch asks for at its start and its
end: at 20 ms its fetches kept the broker and its log store reading while any event flowed, and
the consumer itself busy. 240 ms is the longest wait Tansu reads only twice for; its effect a few
hundred milliseconds later costs nobody. On Apache Kafka the wait costs nothing either way."""


class ServiceSettings(BaseSettings):
    """Settings shared by every service. Subclasses set `service` and add their own fields."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    service: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Fields that must not keep a placeholder value outside development."""

    environment: str = "development"
    region: str = "us-west-2"
    password_hash_cost: Literal["standard", "test-only-cheapest"] = "standard"
    """How costly the argon2id hash of a new password is, where a service hashes passwords
    (accounts, links). `test-only-cheapest` (argon2-cffi's `CHEAPEST` profile) is for test
    platforms only and refused outside development."""
    host: str = "127.0.0.1"
    port: int = 8000

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    kafka_fetch_max_wait_ms: int = 20
    """How long a fetch may wait for data while events flow. Apache Kafka answers as soon as
    data arrives; Tansu (local) re-reads only after W/2, 3W/4, ... of the wait, so a record that
    arrives mid-wait is delivered up to W/2 late: a short wait keeps local event latency low."""
    kafka_idle_fetch_max_wait_ms: int = 2000
    """The fetch wait once no record came for `kafka_idle_after_seconds`: an idle consumer then
    costs the broker and itself almost nothing (docstore_messaging.fetch_wait)."""
    kafka_idle_after_seconds: float = 5.0
    """How long a consumer receives nothing before it fetches with `kafka_idle_fetch_max_wait_ms`."""
    kafka_session_timeout_ms: int = 10_000
    """How long the group coordinator waits for a member's heartbeat before it hands that
    member's partitions to the others (Kafka's client default). Tansu (local) also holds every
    JoinGroup for half of it, in steps of 1 s (its group coordinator sleeps 1 s while less than
    half has passed), so each consumer start or rebalance waits that long and never less than
    1 s; the local platform sets 2 s (docstore_devplatform.servers): a shorter one gains nothing
    (measured: 600 ms, 2 s and 10 s joins took 1.04, 1.02 and 5.03 s)."""
    kafka_heartbeat_interval_ms: int = 3_000
    """How often a consumer tells the coordinator it is alive; below `kafka_session_timeout_ms`."""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client of the service connects (docstore_messaging.kafka_security);
    PLAINTEXT, the local default, adds no client argument."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    """From a Secret; SecretStr keeps it out of reprs, and log masking covers the key."""
    kafka_ssl_cafile: str = ""
    """PEM file of the CAs that sign the brokers' certificates (SSL, SASL_SSL); empty: the
    system's CAs."""
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str = ""
    mongodb_tls_ca_file: str = ""
    """PEM file of the CAs that sign the MongoDB servers' certificates (a mounted CA); when
    set, the client connects with TLS (PyMongo's `tlsCAFile`)."""

    internal_auth_keys: str = DEV_KEYS
    """JSON object of key id -> secret (at least 32 bytes): every key whose identity tokens
    this service accepts. Shared by all services of a deployment; two keys during a rotation."""
    internal_auth_key_id: str = DEV_KEY_ID
    """The key in `internal_auth_keys` this service signs its identity tokens with."""

    otel_exporter_otlp_endpoint: str = ""
    metrics_port: int = 0
    """0: the app answers `GET /metrics` itself. A port: metrics on a listener of their own on
    that port (the chart: 9464, named `metrics`) and not on the app, so no ingress routes them."""
    start_wait_seconds: float = 0
    """How long a service starting while MongoDB, Kafka or S3 does not answer waits for them,
    trying again with backoff and logging each try (`docstore_kit.app`), before it gives up
    and exits; 0: it waits as long as it takes."""
    consistency_period_seconds: float = 300.0
    """How often a service that owns facts runs its consistency checks (`docstore_kit.consistency`:
    upload's completed uploads, metadata's versions); 0: only on demand (the admin route)."""
    consistency_settle_seconds: float = 600.0
    """A fact younger than this is not judged: its event may still be on its way."""
    consistency_page_size: int = 200
    """Facts compared per page (one question to each consumer)."""
    consistency_pages_per_run: int = 10
    """Pages each check goes through per run, from where the last run stopped."""
    log_format: str = "auto"  # auto: console on a terminal, JSON otherwise
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        per_service = EnvSettingsSource(settings_cls, env_prefix=f"{cls.service.upper()}_")
        return init_settings, per_service, env_settings, file_secret_settings

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> ServiceSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            protocol = self.kafka_security_protocol
            raise ValueError(f"kafka_security_protocol {protocol} needs kafka_sasl_username and kafka_sasl_password")
        if not self.mongodb_database:
            self.mongodb_database = f"docstore_{self.service}_{self.region.replace('-', '_')}"
        keys = parse_keys(self.internal_auth_keys)
        if self.internal_auth_key_id not in keys:
            raise ValueError(f"internal_auth_key_id: {self.internal_auth_key_id!r} is not in internal_auth_keys")
        if self.environment != "development" and self.password_hash_cost != "standard":
            raise ValueError(f"password_hash_cost {self.password_hash_cost!r}: refused outside development")
        if self.environment != "development":
            weak = [name for name in self.secret_fields if str(getattr(self, name)).lower() in PLACEHOLDER_SECRETS]
            if set(keys.values()) & set(parse_keys(DEV_KEYS).values()):
                weak.append("internal_auth_keys")
            if weak:
                raise ValueError(f"placeholder secrets outside development: {', '.join(weak)}")
        return self


def mongodb_client_options(settings: Any) -> dict[str, Any]:
    """Keyword arguments for the service's MongoDB client beyond the URL: the CA bundle when
    `mongodb_tls_ca_file` is set (implies TLS); none otherwise, so local clients are unchanged."""
    ca_file = getattr(settings, "mongodb_tls_ca_file", "")
    return {"tlsCAFile": ca_file} if ca_file else {}
