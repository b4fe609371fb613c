"""What the indexer reads, and the bounds of every extraction. Pure rules, no parsing.

Which content types have text to read and which reader reads them, how large an object or
a picture may be, when a zip container is a bomb, at what resolution a PDF page is OCR'd:
the rules live here. The parsers and the OCR programs that apply them are in
`adapters/extraction.py`, run in a worker process (`adapters/extract_worker.py`) that
`adapters/extractor.py` can kill.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/x-markdown",
        "text/csv",
        "text/tab-separated-values",
        "text/x-log",
        "text/calendar",
        "text/vcard",
    }
)
JSON_TYPES = frozenset({"application/json", "application/ld+json"})
XML_TYPES = frozenset({"application/xml", "text/xml", "image/svg+xml"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
RTF_TYPES = frozenset({"application/rtf", "text/rtf"})
PDF_TYPES = frozenset({"application/pdf"})
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
OOXML_TYPES = frozenset({DOCX, XLSX, PPTX})
ODF_TYPES = frozenset(
    {
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
EMAIL_TYPES = frozenset({"message/rfc822"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff", "image/webp", "image/gif", "image/bmp"})
EXTRACTABLE = (
    TEXT_TYPES
    | JSON_TYPES
    | XML_TYPES
    | HTML_TYPES
    | RTF_TYPES
    | PDF_TYPES
    | OOXML_TYPES
    | ODF_TYPES
    | EMAIL_TYPES
    | IMAGE_TYPES
)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The start of a legacy binary (or password-protected) Office file: not a zip container."""

OCR_MIN_CHARS = 3
"""A PDF page with fewer visible characters than this has no text layer: it is OCR'd."""


class ExtractionFailed(Exception):
    """The bytes claim a supported type but no text can be read from them (corrupt, encrypted, a bomb)."""


@dataclass(frozen=True)
class Options:
    """Bounds and OCR settings of one extraction."""

    ocr_languages: str = "eng"
    ocr_max_pages: int = 10
    ocr_dpi: int = 200
    max_unpacked_bytes: int = 200_000_000
    """Office/ODF containers that unpack to more than this are refused (zip bombs)."""
    max_image_pixels: int = 40_000_000
    max_text_chars: int = 1_000_000
    deadline: float | None = None
    """`time.monotonic()` by which OCR must be done; None: no limit of its own."""

    def seconds_left(self) -> float:
        if self.deadline is None:
            return 300.0
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ExtractionFailed("extraction ran out of time")
        return left


class Reader(Enum):
    """Which parser reads a content type."""

    HTML = "html"
    XML = "xml"
    JSON = "json"
    RTF = "rtf"
    TEXT = "text"
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    ODF = "odf"
    EMAIL = "email"
    IMAGE = "image"


def media_type(content_type: str) -> tuple[str, str | None]:
    """`text/plain; charset=latin-1` → ("text/plain", "latin-1")."""
    main, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return main.strip().lower(), charset


def reader_for(kind: str) -> Reader | None:
    """The reader of media type `kind` (see `media_type`); None: indexed by metadata only."""
    if kind in HTML_TYPES:
        return Reader.HTML
    if kind in XML_TYPES:
        return Reader.XML
    if kind in JSON_TYPES:
        return Reader.JSON
    if kind in RTF_TYPES:
        return Reader.RTF
    if kind in TEXT_TYPES or kind.startswith("text/"):
        return Reader.TEXT
    if kind in PDF_TYPES:
        return Reader.PDF
    if kind == DOCX:
        return Reader.DOCX
    if kind == XLSX:
        return Reader.XLSX
    if kind == PPTX:
        return Reader.PPTX
    if kind in ODF_TYPES:
        return Reader.ODF
    if kind in EMAIL_TYPES:
        return Reader.EMAIL
    if kind in IMAGE_TYPES:
        return Reader.IMAGE
    return None


def is_extractable(content_type: str) -> bool:
    """True when this indexer can read text from objects of `content_type` (else: metadata only)."""
    kind = media_type(content_type)[0]
    return kind in EXTRACTABLE or (kind.startswith("text/") and kind not in HTML_TYPES)


def needs_ocr(content_type: str) -> bool:
    return media_type(content_type)[0] in IMAGE_TYPES


def has_text_layer(page_text: str) -> bool:
    """Whether a PDF page's own text counts (else the page is rasterised and OCR'd)."""
    return len("".join(page_text.split())) >= OCR_MIN_CHARS


def page_dpi(number: int, size_points: tuple[float, float], options: Options) -> int:
    """The resolution page `number` is rasterised at: lower for huge pages, so no page image
    has more than `max_image_pixels`; too large to OCR at all below 20 dpi."""
    width_in, height_in = max(size_points[0], 1.0) / 72, max(size_points[1], 1.0) / 72
    dpi = int(min(options.ocr_dpi, (options.max_image_pixels / (width_in * height_in)) ** 0.5))
    if dpi < 20:
        raise ExtractionFailed(f"PDF page {number} is too large to OCR")
    return dpi


def check_image_size(width: int, height: int, options: Options) -> None:
    if width * height > options.max_image_pixels:
        raise ExtractionFailed(f"image too large to OCR: {width}x{height} pixels (limit {options.max_image_pixels})")


class ContainerMember(Protocol):
    """One member of a zip container (`zipfile.ZipInfo` is one)."""

    filename: str
    file_size: int
    compress_size: int
    flag_bits: int


def check_members(members: Iterable[ContainerMember], options: Options) -> None:
    """Refuse an Office/ODF container that unpacks to too much, inflates one member too far
    (a zip bomb), or is encrypted."""
    members = list(members)
    unpacked = sum(member.file_size for member in members)
    if unpacked > options.max_unpacked_bytes:
        raise ExtractionFailed(f"zip bomb suspected: unpacks to {unpacked} bytes (limit {options.max_unpacked_bytes})")
    for member in members:
        if member.file_size > 10_000_000 and member.file_size > 200 * max(member.compress_size, 1):
            raise ExtractionFailed(
                f"zip bomb suspected: {member.filename} expands {member.file_size} bytes from {member.compress_size}"
            )
    if any(member.flag_bits & 0x1 for member in members):
        raise ExtractionFailed("encrypted zip container")


def tidy(text: str) -> str:
    """Collapse runs of blank space within lines and drop empty lines."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


# What one document's extraction may cost, and what came of it -------------------------------


@dataclass(frozen=True)
class Limits:
    max_extract_bytes: int
    extract_timeout_seconds: float
    max_text_chars: int


@dataclass(frozen=True)
class Extracted:
    """The text of one document, or (with `failure`) why there is none: it is still indexed by
    name, tags and type."""

    text: str
    failure: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.failure)


def before_reading(content_type: str, size: int, limits: Limits) -> Extracted | None:
    """The outcome known without reading the object (unsupported type, too large), or None: read it."""
    if not is_extractable(content_type):
        return Extracted("")  # indexed by name, tags and type only
    if size > limits.max_extract_bytes:
        return Extracted("", f"too large to extract: {size} bytes, limit {limits.max_extract_bytes}")
    return None


def after_reading(data: bytes, limits: Limits) -> Extracted | None:
    """A failure when the object turned out larger than its declared size allowed, else None."""
    if len(data) > limits.max_extract_bytes:
        return Extracted("", f"too large to extract: more than {limits.max_extract_bytes} bytes")
    return None


def cut(text: str, limits: Limits) -> Extracted:
    return Extracted(text[: limits.max_text_chars])
