"""Settings of the links service (env: LINKS_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service = "links"

    port: int = 8089
    page_size_max: int = 200
    notify_url: str = "http://127.0.0.1:8085"
    """Notify (internal): the outbox check asks its `POST /internal/processed-events`."""
    metadata_url: str = "http://127.0.0.1:8081"
    """Metadata (internal): asked at each link's creation and use whether its creator may still
    read the document, and which stored version to serve (`POST /internal/links/access`)."""
    link_download_url_seconds: int = 60
    """Life of the signed URL a public share link hands out (capped at 60 s)."""
    link_sweep_interval_seconds: float = 60
    """How often a replica looks for share links near or past their expiry (to announce each once)."""
