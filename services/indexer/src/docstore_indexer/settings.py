"""Settings of the indexer service (env: INDEXER_<NAME>, then <NAME>)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import model_validator

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings

MB = 1_000_000


class Settings(ServiceSettings, S3Settings):
    service = "indexer"
    secret_fields: ClassVar[tuple[str, ...]] = ("typesense_api_key",)

    port: int = 8084

    metadata_url: str = "http://127.0.0.1:8081"
    """Metadata (internal): the consistency check asks it which versions it recorded."""
    accounts_url: str = "http://127.0.0.1:8086"
    """The accounts service, asked for an account's plan when the indexer's record says Free
    (a fresh upgrade whose event has not arrived yet)."""

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
    max_unpacked_bytes: int = 200 * MB
    """Office/ODF files whose zip container unpacks to more are refused (zip bombs)."""
    max_image_pixels: int = 40_000_000
    """Images (and rasterised PDF pages) larger than this are not OCR'd."""
    ocr_languages: str = "eng"
    """Tesseract languages, `+`-separated (e.g. `eng+deu`); each needs its `tesseract-ocr-<lang>` data."""
    ocr_max_pages: int = 10
    """At most this many pages of a document (PDF pages without text, TIFF frames) are OCR'd."""
    ocr_dpi: int = 200
    extract_workers: int = 2
    """Extraction worker processes per replica (each document runs in one, killed at the time limit)."""
    extract_memory_mb: int = 2048
    """Address-space limit of each extraction worker process."""

    index_batch_size: int = 64
    """At most this many due uploads indexed together: one Typesense import and one MongoDB transaction."""
    index_read_ahead: int = 6
    """Uploads read from S3 ahead of the extraction workers (at most `index_read_ahead_mb` of
    them): a worker that finishes a small document finds the next one already read."""
    index_read_ahead_mb: int = 64
    index_batch_seconds: float = 0.5
    """While more uploads are being extracted, a batch waits up to this long to grow before it is
    imported and committed (at once when it is full, or when nothing else is being extracted):
    fewer, larger imports and transactions under load; a lone upload never waits."""
    index_poll_seconds: float = 5.0
    """How often the indexing worker looks for due uploads it was not told about (after a crash, other replicas)."""

    search_plan_seconds: float = 2.0
    """A search reads the account's plan at most this often (cached in-process; a plan change
    recorded by this replica drops it at once, one recorded by another is seen within this)."""

    backfill_documents_per_second: float = 10.0
    """Throttle of the backfill that follows an upgrade to Premium (per replica)."""
    backfill_poll_seconds: float = 2.0

    preview_workers: int = 1
    """Preview render worker processes per replica (beside the extraction workers; same memory cap)."""
    preview_niceness: int = 10
    """CPU niceness of the render workers (and the ffmpeg/LibreOffice they start), 0-19: while the
    cores are busy, extraction (search) and the services' requests run first and previews take
    what is left; on idle cores they render at full speed. 0: the same priority as the rest."""
    preview_defer_seconds: float = 30.0
    """While the indexing worker has uploads to extract or commit, a due preview waits (at most
    this long after it became due) instead of competing with extraction for the cores: search
    first, thumbnails right after. 0: render at once, beside extraction."""
    preview_timeout_seconds: float = 30.0
    """A render that takes longer has its worker (and its ffmpeg/LibreOffice) killed: that preview fails."""
    max_preview_bytes: int = 200 * MB
    """Versions larger than this get no preview (`document.preview-failed`)."""
    preview_format: Literal["webp", "jpeg"] = "webp"
    """Encoding of both preview sizes (WebP measured smaller at the same quality: see the README)."""
    preview_quality: int = 80
    preview_batch_seconds: float = 1.0
    """While more versions are waiting or being rendered, rendered outcomes wait up to this long (from
    the first) to be recorded together: one transaction, one outbox write and one relay round per
    batch (up to `index_batch_size`) instead of per version. Previews are not what makes an upload
    searchable, so they can wait a second."""
    preview_poll_seconds: float = 5.0
    """How often the preview worker looks for due versions it was not told about, and samples stored bytes."""
    preview_backfill_documents_per_second: float = 20.0
    """Throttle of the one-time backfill that gives documents from before previews theirs (per replica)."""

    @model_validator(mode="after")
    def _default_collection(self) -> Settings:
        if not self.typesense_collection:
            self.typesense_collection = f"documents_{self.region.replace('-', '_')}"
        return self
