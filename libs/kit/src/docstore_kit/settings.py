"""The settings base every service's `Settings` derives from.

Each field reads a per-service environment variable first, then the shared one:
`UPLOAD_KAFKA_BOOTSTRAP_SERVERS` wins over `KAFKA_BOOTSTRAP_SERVERS` for `upload`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from docstore_kit.auth import DEV_KEY_ID, DEV_KEYS, parse_keys

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev-secret"})


class ServiceSettings(BaseSettings):
    """Settings shared by every service. Subclasses set `service` and add their own fields."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    service: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Fields that must not keep a placeholder value outside development."""

    environment: str = "development"
    region: str = "us-west-2"
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
    costs the broker and itself almost nothing (docstore_events.fetch_wait)."""
    kafka_idle_after_seconds: float = 5.0
    """How long a consumer receives nothing before it fetches with `kafka_idle_fetch_max_wait_ms`."""
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str = ""

    internal_auth_keys: str = DEV_KEYS
    """JSON object of key id -> secret (at least 32 bytes): every key whose identity tokens
    this service accepts. Shared by all services of a deployment; two keys during a rotation."""
    internal_auth_key_id: str = DEV_KEY_ID
    """The key in `internal_auth_keys` this service signs its identity tokens with."""

    otel_exporter_otlp_endpoint: str = ""
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
        if not self.mongodb_database:
            self.mongodb_database = f"docstore_{self.service}_{self.region.replace('-', '_')}"
        keys = parse_keys(self.internal_auth_keys)
        if self.internal_auth_key_id not in keys:
            raise ValueError(f"internal_auth_key_id: {self.internal_auth_key_id!r} is not in internal_auth_keys")
        if self.environment != "development":
            weak = [name for name in self.secret_fields if str(getattr(self, name)).lower() in PLACEHOLDER_SECRETS]
            if set(keys.values()) & set(parse_keys(DEV_KEYS).values()):
                weak.append("internal_auth_keys")
            if weak:
                raise ValueError(f"placeholder secrets outside development: {', '.join(weak)}")
        return self
