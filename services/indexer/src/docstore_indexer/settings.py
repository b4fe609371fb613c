"""Settings of the indexer service (env: INDEXER_<NAME>, then <NAME>)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings

MB = 1_000_000


class Settings(ServiceSettings, S3Settings):
    service = "indexer"
    secret_fields: ClassVar[tuple[str, ...]] = ("typesense_api_key",)

    port: int = 8084

    typesense_url: str = "http://127.0.0.1:8108"
    typesense_api_key: str = ""
    typesense_collection: str = ""
    """The search collection; defaults to `documents_<region>` (e.g. `documents_us_west_2`)."""

    max_extract_bytes: int = 50 * MB
    """Objects larger than this are indexed by metadata only, and reported as failed."""
    extract_timeout_seconds: float = 30.0
    """Extraction of one object that takes longer is abandoned and reported as failed."""
    max_text_chars: int = 1_000_000
    """Extracted text is cut to this many characters before it goes into the index."""

    @model_validator(mode="after")
    def _default_collection(self) -> "Settings":
        if not self.typesense_collection:
            self.typesense_collection = f"documents_{self.region.replace('-', '_')}"
        return self
