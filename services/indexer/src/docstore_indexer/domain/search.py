"""Rules of a search request. Pure."""

from __future__ import annotations

import mimetypes

from docstore_kit.errors import Invalid


class PeriodReversed(Invalid):
    """`created_from` after `created_to` (422)."""

    problem = "period-reversed"
    title = "Period ends before it starts"

    def __init__(self) -> None:
        super().__init__("created_from: must not be after created_to")


def check_period(start: int | None, end: int | None) -> None:
    """Unix seconds, either may be open; raises `PeriodReversed` when the start is after the end."""
    if start is not None and end is not None and start > end:
        raise PeriodReversed()


SHORT_TYPES: dict[str, tuple[str, ...]] = {
    "pdf": ("application/pdf",),
    "doc": ("application/msword",),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    "xls": ("application/vnd.ms-excel",),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    "ppt": ("application/vnd.ms-powerpoint",),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    "odt": ("application/vnd.oasis.opendocument.text",),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet",),
    "odp": ("application/vnd.oasis.opendocument.presentation",),
    "txt": ("text/plain",),
    "text": ("text/plain",),
    "md": ("text/markdown", "text/x-markdown"),
    "markdown": ("text/markdown", "text/x-markdown"),
    "csv": ("text/csv",),
    "html": ("text/html",),
    "htm": ("text/html",),
    "xml": ("application/xml", "text/xml"),
    "json": ("application/json",),
    "rtf": ("application/rtf", "text/rtf"),
    "eml": ("message/rfc822",),
    "png": ("image/png",),
    "jpg": ("image/jpeg",),
    "jpeg": ("image/jpeg",),
    "gif": ("image/gif",),
    "tif": ("image/tiff",),
    "tiff": ("image/tiff",),
    "webp": ("image/webp",),
    "svg": ("image/svg+xml",),
    "zip": ("application/zip",),
}
"""File extensions a person types in `content_type=` and the MIME types documents of that kind are
stored with (the kinds the indexer reads, and a few common others; the stdlib's table covers the rest)."""


class UnknownContentType(Invalid):
    """A `content_type` filter that is neither a MIME type nor a known file extension (422)."""

    problem = "unknown-content-type"
    title = "Unknown content type"

    def __init__(self, value: str) -> None:
        super().__init__(
            f"content_type: {value!r} is not a MIME type (such as application/pdf) or a file extension we know "
            "(such as pdf, docx or png)"
        )


def content_types(values: list[str]) -> tuple[str, ...]:
    """The MIME types a `content_type` filter stands for: a MIME type as given (lower case, without
    parameters), a file extension (`pdf`, `.docx`) as the types such files are stored with. Raises
    `UnknownContentType` for anything else, rather than filtering on a type no document has."""
    found: list[str] = []
    for raw in values:
        value = raw.split(";")[0].strip().lower()
        if not value:
            continue
        if "/" in value:
            found.append(value)
            continue
        extension = value.removeprefix(".").removeprefix("*.")
        if extension in SHORT_TYPES:
            found.extend(SHORT_TYPES[extension])
            continue
        # The stdlib's own table, not the host's /etc/mime.types: the same answer on every machine.
        standard = mimetypes.MimeTypes().guess_type(f"x.{extension}", strict=False)[0]
        if standard is None:
            raise UnknownContentType(raw)
        found.append(standard)
    return tuple(dict.fromkeys(found))
