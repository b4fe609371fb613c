"""Settings of the metadata service (env: METADATA_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings, S3Settings):
    service = "metadata"

    port: int = 8081
    download_url_seconds: int = 300
    page_size_max: int = 200
