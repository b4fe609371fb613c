"""DocStore event contracts and the plumbing to publish and consume them.

Event classes live in one module per domain (`accounts`, `uploads`, `files`, `quota`,
`indexing`, `previews`, `shares`, ...); `event_types.CATALOGUE` lists every one of them by hand,
and importing this package imports it, so every process knows (and can decode) every type.
"""

from docstore_events.accounts import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    AccountReplicated,
    AccountUsernameConflicted,
    Plan,
)
from docstore_events.base import EVENT_TYPES, Event
from docstore_events.envelope import Envelope, KafkaRecord, UndecodableEvent, decode, encode
from docstore_events.event_types import CATALOGUE
from docstore_events.files import (
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
    ShareCreated,
)
from docstore_events.indexing import DocumentIndexed, DocumentIndexFailed, DocumentsIndexed
from docstore_events.previews import (
    DocumentPreviewFailed,
    DocumentPreviewReady,
    DocumentPreviewRendered,
    DocumentPreviewsRecorded,
    PreviewImage,
)
from docstore_events.quota import QuotaExceeded, QuotaRestored
from docstore_events.shares import (
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkExpiryNeared,
    ShareLinkExtended,
    ShareLinkRevoked,
    ShareLinkUsed,
)
from docstore_events.topics import all_topics, dead_letter_topic
from docstore_events.uploads import UploadCompleted, UploadExpired, UploadInitiated, UploadsInitiated

__all__ = [
    "CATALOGUE",
    "EVENT_TYPES",
    "AccountCreated",
    "AccountDeleted",
    "AccountPlanChanged",
    "AccountReplicated",
    "AccountUsernameConflicted",
    "DocumentIndexFailed",
    "DocumentIndexed",
    "DocumentPreviewFailed",
    "DocumentPreviewReady",
    "DocumentPreviewRendered",
    "DocumentPreviewsRecorded",
    "DocumentsIndexed",
    "Envelope",
    "Event",
    "FileDeleted",
    "FileDetailsChanged",
    "FileModified",
    "FileRestored",
    "FileTrashed",
    "FileVersionRecorded",
    "KafkaRecord",
    "Plan",
    "PreviewImage",
    "QuotaExceeded",
    "QuotaRestored",
    "ShareCreated",
    "ShareLinkCreated",
    "ShareLinkExpired",
    "ShareLinkExpiryNeared",
    "ShareLinkExtended",
    "ShareLinkRevoked",
    "ShareLinkUsed",
    "UndecodableEvent",
    "UploadCompleted",
    "UploadExpired",
    "UploadInitiated",
    "UploadsInitiated",
    "all_topics",
    "dead_letter_topic",
    "decode",
    "encode",
]
