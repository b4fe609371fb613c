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


class PreviewOutcome(BaseModel):
    """One version's outcome in `DocumentPreviewsRecorded`: both images (`small` and `large`), or
    none, and why (`reason`, as `document.preview-failed`'s)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    document_id: str
    version: int
    small: PreviewImage | None = None
    large: PreviewImage | None = None
    reason: str | None = None


class DocumentPreviewsRecorded(Event):
    """Emitted by `indexer` once per committed batch of preview outcomes and account whose batch
    held more than one of the account's versions: their outcomes, in order. One record instead
    of one `document.preview-ready` or `document.preview-failed` each (issue 35); a single outcome
    still emits its own event."""

    type = "document.batch-previews"

    outcomes: list[PreviewOutcome]

    def each(self) -> list[DocumentPreviewRendered | DocumentPreviewFailed]:
        """The outcomes as the single events they stand for (an outcome with both images is ready)."""
        return [
            DocumentPreviewRendered(
                account_id=self.account_id, document_id=o.document_id, version=o.version, small=o.small, large=o.large
            )
            if o.small is not None and o.large is not None
            else DocumentPreviewFailed(
                account_id=self.account_id,
                document_id=o.document_id,
                version=o.version,
                reason=o.reason or "no preview",
            )
            for o in self.outcomes
        ]


PreviewEvent = DocumentPreviewRendered | DocumentPreviewFailed | DocumentPreviewsRecorded
"""What `indexer` emits about a version's preview: one outcome, or a batch's for one account."""


def preview_outcomes_in(event: PreviewEvent) -> list[DocumentPreviewRendered | DocumentPreviewFailed]:
    """The single outcomes `event` carries (itself, when it is one)."""
    return event.each() if isinstance(event, DocumentPreviewsRecorded) else [event]
