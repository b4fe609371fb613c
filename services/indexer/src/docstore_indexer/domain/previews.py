"""Preview rules, no I/O: which renderer for which type, the sizes, the S3 keys, the limits,
and which preview facts win.

Every version of every document (every plan) gets a preview entry `<account>:<document>:v<n>`:
`due` when its `file.version-recorded` arrives, then `ready` (both sizes stored) or `failed`
(with a reason; at once, when its type or size already says so: `known_without_rendering`), or
`deleted` when `file.deleted` names the version (a tombstone: a late or redelivered version event
does not bring it back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

SMALL = "small"
LARGE = "large"
SIZES: dict[str, int] = {SMALL: 256, LARGE: 1024}
"""Longest side in pixels of each preview size (never enlarged past the source)."""

PREFIX = "previews"
"""The key prefix of every preview object; quota and its reconciliation count only document versions."""

DUE = "due"
READY = "ready"
FAILED = "failed"
DELETED = "deleted"

NETWORK_ISOLATED_ENV = "DOCSTORE_RENDER_NETWORK_ISOLATED"
"""Set by the render worker from what it finds: `0` when it has network (no namespace could be
made), and then Office documents are not rendered (LibreOffice fetches linked images)."""
NICENESS_ENV = "DOCSTORE_RENDER_NICENESS"
"""The CPU niceness a render worker sets itself (and passes on to what it starts); 0: none."""

UNSUPPORTED = "unsupported type"
"""The reason for types without a renderer: clients show a typed icon instead."""

IMAGE = "image"
HEIF = "heif"
PDF = "pdf"
VIDEO = "video"
TEXT = "text"
OFFICE = "office"

_IMAGES = frozenset(
    {
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
    }
)
_HEIF = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence", "image/avif"})
_OFFICE = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
"""Office Open XML and ODF (zip containers, checked for bombs first); legacy binary Office files get the icon."""
_TEXT = frozenset({"application/json", "application/xml", "application/x-yaml", "application/yaml"})
# Rich text formats: their first lines are markup, not what a person reads. The icon is better.
_NOT_TEXT = frozenset({"text/html", "text/rtf"})


class PreviewFailed(Exception):
    """This one version gets no preview; the message is the reason shown to people."""


NOT_TEXT = "not readable text"
"""The reason for a file labelled text whose start is binary: a page of replacement characters
would show nothing (clients show a typed icon)."""

_TEXT_CONTROLS = frozenset("\t\n\r\x0b\x0c")


def reads_as_text(text: str) -> bool:
    """Whether a file's start, decoded as UTF-8 with replacement characters, reads as text: at
    most one character in ten a decoding error or a control character other than whitespace.
    (A Latin-1 file labelled UTF-8 loses its accented letters, far fewer than that.)"""
    unreadable = sum(1 for char in text if char == "\ufffd" or (char < " " and char not in _TEXT_CONTROLS))
    return unreadable * 10 <= len(text)


def media_type(content_type: str) -> str:
    """`content_type` without parameters, lower case (`text/plain; charset=utf-8` → `text/plain`)."""
    return content_type.split(";", 1)[0].strip().lower()


def renderer_for(content_type: str) -> str | None:
    """Which renderer makes a preview of this type, or None (a typed icon: "unsupported type")."""
    kind = media_type(content_type)
    if kind in _IMAGES:
        return IMAGE
    if kind in _HEIF:
        return HEIF
    if kind == "application/pdf":
        return PDF
    if kind in _OFFICE:
        return OFFICE
    if kind.startswith("video/"):
        return VIDEO
    if kind in _TEXT or (kind.startswith("text/") and kind not in _NOT_TEXT):
        return TEXT
    return None


def known_without_rendering(content_type: str, size: int, max_bytes: int) -> str | None:
    """Why a version gets no preview, when its type or size says so before anything is read (a
    type without a renderer, or more bytes than `max_bytes`); None when only a render can tell."""
    if renderer_for(content_type) is None:
        return UNSUPPORTED
    if size > max_bytes:
        return too_large(max_bytes)
    return None


def too_large(max_bytes: int) -> str:
    """The reason shown for a version over the preview size limit."""
    return f"file too large for a preview (over {max_bytes:,} bytes)"


def fit(width: int, height: int, longest: int) -> tuple[int, int]:
    """`width` × `height` scaled down (never up) so the longer side is at most `longest`."""
    if width <= 0 or height <= 0:
        raise PreviewFailed("image has no pixels")
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image (or page, or frame) larger than `max_pixels` before decoding it: a
    decompression bomb is a few KB that claims billions of pixels."""
    if width <= 0 or height <= 0:
        raise PreviewFailed("image has no pixels")
    if width * height > max_pixels:
        raise PreviewFailed(f"image too large ({width} x {height} pixels, limit {max_pixels:,})")


def entry_id(account_id: str, document_id: str, version: int) -> str:
    return f"{account_id}:{document_id}:v{version}"


def document_prefix(region: str, account_id: str, document_id: str) -> str:
    """Every preview object of one document is under this prefix (ends with `/`)."""
    return f"{PREFIX}/{region}/{account_id}/{document_id}/"


def version_prefix(region: str, account_id: str, document_id: str, version: int) -> str:
    return f"{document_prefix(region, account_id, document_id)}v{version}/"


def preview_key(region: str, account_id: str, document_id: str, version: int, size: str, extension: str) -> str:
    """`previews/{region}/{account_id}/{document_id}/v{version}/{small|large}.{webp|jpg}` (the issue 21 contract)."""
    return f"{version_prefix(region, account_id, document_id, version)}{size}.{extension}"


@dataclass(frozen=True)
class RenderOptions:
    """What a render may use: sent to the worker process with each request (JSON)."""

    max_pixels: int = 40_000_000
    """Images, PDF pages and video frames larger than this are refused before decoding."""
    image_format: str = "webp"
    """`webp` or `jpeg`: see the README for the measurement that chose it."""
    quality: int = 80
    max_unpacked_bytes: int = 200_000_000
    """Office/ODF containers that unpack to more are refused (zip bombs) before LibreOffice opens them."""
    text_lines: int = 40
    """At most this many lines of a text file are drawn."""
    deadline: float = 0.0
    """`time.monotonic()` by which the render must end (0: none); subprocesses get what is left."""


@dataclass(frozen=True)
class Rendered:
    """One encoded preview size, as the worker made it."""

    size: str
    width: int
    height: int
    content_type: str
    extension: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class StoredImage:
    key: str
    width: int
    height: int
    content_type: str
    size: int


@dataclass(frozen=True)
class PreviewEntry:
    """One version's preview as the indexer keeps it (MongoDB `previews`)."""

    account_id: str
    document_id: str
    version: int
    state: str
    bucket: str = ""
    key: str = ""
    """The version's uploaded object (what is rendered)."""
    content_type: str = ""
    size: int = 0
    reason: str | None = None
    images: dict[str, StoredImage] = field(default_factory=dict)
    at: datetime | None = None
    traceparent: str | None = None

    @property
    def id(self) -> str:
        return entry_id(self.account_id, self.document_id, self.version)

    @property
    def stored_bytes(self) -> int:
        return sum(image.size for image in self.images.values())


def on_version(existing: PreviewEntry | None, new: PreviewEntry) -> PreviewEntry | None:
    """The entry to write when a version is recorded, or None: a version already known (due,
    rendered, failed or deleted) is left alone, so a redelivery or a second event for the
    same version renders nothing twice and emits nothing twice."""
    return None if existing is not None else new


@dataclass
class PreviewMetrics:
    """Hooks for the service's metrics (`adapters.preview_metrics`); no-ops by default."""

    rendered: Callable[[str, float], None] = lambda outcome, seconds: None
    stored_bytes: Callable[[int], None] = lambda total: None
    backfill: Callable[[int, int], None] = lambda done, total: None
