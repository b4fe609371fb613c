"""Settings of the gateway (env: GATEWAY_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service = "gateway"

    port: int = 8080
    metadata_url: str = "http://127.0.0.1:8081"
    upload_url: str = "http://127.0.0.1:8082"
    quota_url: str = "http://127.0.0.1:8083"
    indexer_url: str = "http://127.0.0.1:8084"
    notify_url: str = "http://127.0.0.1:8085"
    session_ttl_seconds: int = 7 * 24 * 3600
    max_body_bytes: int = 1_000_000
    """JSON bodies only: file bytes never pass through DocStore processes."""

    def upstreams(self) -> dict[str, str]:
        return {
            "metadata": self.metadata_url,
            "upload": self.upload_url,
            "quota": self.quota_url,
            "indexer": self.indexer_url,
            "notify": self.notify_url,
        }
