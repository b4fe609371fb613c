"""Settings of the gateway (env: GATEWAY_<NAME>, then <NAME>)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from docstore_kit.settings import ServiceSettings


def find_web_dir(start: Path = Path(__file__).resolve()) -> str:
    """The repository's `web/` folder (the one holding `index.html`), found by walking up from
    this file; empty when there is none (an installed package without the web app)."""
    for folder in start.parents:
        if (folder / "web" / "index.html").is_file():
            return str(folder / "web")
    return ""


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
    web_dir: str = Field(default_factory=find_web_dir)
    """Static files of the web app, served at `/` after every API route; empty: no web app."""

    region_gateways: str = ""
    """JSON map region -> public URL of that region's gateway, this region included, e.g.
    `{"us-west-2": "https://us-west-2.docstore.example", "ap-southeast-2": "https://ap-southeast-2.docstore.example"}`.
    A request for an account whose home is another region is redirected there (307); every
    URL's origin is allowed by CORS, so the web app of one region can follow the redirect."""

    def gateways(self) -> dict[str, str]:
        urls = json.loads(self.region_gateways) if self.region_gateways.strip() else {}
        if not isinstance(urls, dict):
            raise ValueError("region_gateways: a JSON object region -> URL")
        return {str(region): str(url).rstrip("/") for region, url in urls.items() if url}

    def cors_origins(self) -> list[str]:
        """The origins (scheme://host[:port]) of every region's gateway."""
        from urllib.parse import urlsplit

        origins = []
        for url in self.gateways().values():
            parts = urlsplit(url)
            if parts.scheme and parts.netloc:
                origins.append(f"{parts.scheme}://{parts.netloc}")
        return sorted(set(origins))

    def upstreams(self) -> dict[str, str]:
        return {
            "metadata": self.metadata_url,
            "upload": self.upload_url,
            "quota": self.quota_url,
            "indexer": self.indexer_url,
            "notify": self.notify_url,
        }
