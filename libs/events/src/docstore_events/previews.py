"""Events about document previews (thumbnails). All are emitted by `indexer`, which renders
them beside its extraction workers; `metadata` keeps each version's preview state from them.

The images live in the account's regional bucket under
`previews/{region}/{account_id}/{document_id}/v{version}/{small|large}.{webp|jpg}`; they do not
count toward quota. No event carries a URL: `metadata` signs one on request after its
permission check.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from docstore_events.base import Event


class PreviewImage(BaseModel):
    """One rendered size of a version's preview: where it is and what it is."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    """The S3 key in the account's regional bucket (`previews/...`)."""
    width: int
    height: int
    content_type: str
    """`image/webp` or `image/jpeg`."""
    size: int
    """Bytes of the stored image."""


class DocumentPreviewRendered(Event):
    """Emitted by `indexer` when both sizes of a version's preview are stored in S3: the
    preview is ready (the class name is past tense, as every event's; `DocumentPreviewReady`
    names the same class)."""

    type = "document.preview-ready"

    document_id: str
    version: int
    small: PreviewImage
    """About 256 px on its longer side: the thumbnail of list and grid views."""
    large: PreviewImage
    """About 1024 px on its longer side (the first page of a paged format): the preview pane."""


DocumentPreviewReady = DocumentPreviewRendered
"""The same class by the name of its type, `document.preview-ready`."""


class DocumentPreviewFailed(Event):
    """Emitted by `indexer` when a version gets no preview: a type without a renderer
    (`reason` "unsupported type": clients show a typed icon), a corrupt, truncated or
    oversized file, a decompression bomb, or a render that crashed or ran past its time or
    memory cap."""

    type = "document.preview-failed"

    document_id: str
    version: int
    reason: str
