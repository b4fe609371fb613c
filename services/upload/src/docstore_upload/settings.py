"""Settings of the upload service (env: UPLOAD_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings, S3Settings):
    service = "upload"

    port: int = 8082
    quota_url: str = "http://127.0.0.1:8083"
    grant_seconds: int = 15 * 60
    """How long a signed form stays valid."""
