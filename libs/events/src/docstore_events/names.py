"""The file name, folder path and tag rules: one contract between upload and metadata.

`upload` checks them when it hands out a grant, `metadata` when it records a version or a
client renames, moves or retags a document. Both must agree, or a grant upload accepts
could be refused when its version is recorded; so the rules live here, once.

Pure functions, no I/O. Each returns the normalised value or raises `InvalidName`, whose
message is written for people ("A name can't contain '/'...") so it can be shown as is, and
whose `field` names the request member at fault (`name`, `path`, `tags`...) for programs.
Services wrap it in their own error type to keep their HTTP answers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

MAX_NAME = 255
MAX_PATH = 1024
MAX_TAGS = 50
MAX_TAG = 64


class InvalidName(ValueError):
    """A file name, folder path or tag list that breaks a rule: the message for people, the
    field at fault in `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def check_name(name: str, *, field: str = "name") -> str:
    """A file name: trimmed, NFC, 1 to MAX_NAME characters, no '/' or '\\', not '.' or '..',
    no control characters. `field` is what the caller's API calls it (upload says `filename`)."""
    # NFC so the same name typed on macOS (NFD) and elsewhere is one name, not two.
    value = unicodedata.normalize("NFC", name.strip())
    if not value:
        raise InvalidName(field, "A name can't be empty.")
    if len(value) > MAX_NAME:
        raise InvalidName(field, f"A name can be at most {MAX_NAME} characters long.")
    if "/" in value or "\\" in value:
        # A rename is where people type a folder into the name: point them at Move.
        hint = " To move the file into a folder, choose Move." if field == "name" else ""
        raise InvalidName(field, f"A name can't contain '/' or '\\'.{hint}")
    if value in (".", ".."):
        raise InvalidName(field, "A name can't be '.' or '..'.")
    if _has_control(value):
        raise InvalidName(field, "A name can't contain control characters such as line breaks or tabs.")
    return value


def check_path(path: str, *, field: str = "path") -> str:
    """A folder: absolute, '/'-separated, no '.' or '..' segments, no control characters.

    Returns it trimmed with empty segments and the trailing '/' dropped; blank means the root."""
    value = path.strip() or "/"
    if not value.startswith("/"):
        raise InvalidName(field, "A folder path starts with '/', for example /Invoices/2026.")
    if len(value) > MAX_PATH:
        raise InvalidName(field, f"A folder path can be at most {MAX_PATH} characters long.")
    segments = [s for s in value.split("/") if s]
    if any(s in (".", "..") for s in segments) or _has_control(value):
        raise InvalidName(field, "A folder can't be called '.' or '..', and a path can't contain control characters.")
    return "/" + "/".join(segments)


def check_tags(tags: Iterable[str], *, field: str = "tags") -> list[str]:
    """At most MAX_TAGS tags (counted before duplicates are dropped), each trimmed, 1 to
    MAX_TAG characters, no control characters. Returns them deduplicated and sorted."""
    tags = list(tags)
    if len(tags) > MAX_TAGS:
        raise InvalidName(field, f"A document can have at most {MAX_TAGS} tags.")
    cleaned = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG or _has_control(tag):
            raise InvalidName(field, f"Each tag is 1 to {MAX_TAG} characters, with no control characters.")
        cleaned.append(tag)
    return sorted(set(cleaned))
