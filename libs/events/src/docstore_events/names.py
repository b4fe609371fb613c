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


JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: format characters (Cf) that scripts need (Persian, Indic
words; emoji sequences such as 👩‍💻) and that change no order. Every other Cf is refused."""


def _invisible(text: str) -> str | None:
    """The first invisible format character (Unicode category Cf) in `text`, joiners aside:
    bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F), zero-width spaces,
    U+FEFF, soft hyphens, tag characters. They make a name display as something it is not
    (`"\u202etxt.exe"` shows as `exe.txt`), or two names look alike."""
    return next((ch for ch in text if ch not in JOINERS and unicodedata.category(ch) == "Cf"), None)


def _no_invisible(text: str, field: str, what: str) -> None:
    if (found := _invisible(text)) is not None:
        raise InvalidName(
            field,
            f"{what} can't contain invisible formatting characters such as right-to-left overrides "
            f"(found U+{ord(found):04X}): they make it display as something it is not.",
        )


def check_name(name: str, *, field: str = "name") -> str:
    """A file name: trimmed, NFC, 1 to MAX_NAME characters, no '/' or '\\', not '.' or '..',
    no control characters, no invisible format characters (bidirectional controls and the like).
    `field` is what the caller's API calls it (upload says `filename`)."""
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
    _no_invisible(value, field, "A name")
    return value


def check_path(path: str, *, field: str = "path") -> str:
    """A folder: NFC, absolute, '/'-separated, no '.' or '..' segments, no control characters; each
    segment is named by the file-name rules (no '\\', at most MAX_NAME characters, no invisible
    format characters).

    Returns it trimmed with empty segments and the trailing '/' dropped; blank means the root."""
    # NFC as names are (issue 34's one normal form): `/Résumés` typed on macOS is one folder.
    value = unicodedata.normalize("NFC", path.strip()) or "/"
    if not value.startswith("/"):
        raise InvalidName(field, "A folder path starts with '/', for example /Invoices/2026.")
    if len(value) > MAX_PATH:
        raise InvalidName(field, f"A folder path can be at most {MAX_PATH} characters long.")
    segments = [s for s in value.split("/") if s]
    if any(s in (".", "..") for s in segments) or _has_control(value):
        raise InvalidName(field, "A folder can't be called '.' or '..', and a path can't contain control characters.")
    # Each folder is named by the file-name rules too: '\' is a separator to a client on Windows.
    if "\\" in value:
        raise InvalidName(field, "A folder name can't contain '\\': separate folders with '/'.")
    if any(len(s) > MAX_NAME for s in segments):
        raise InvalidName(field, f"A folder name can be at most {MAX_NAME} characters long.")
    _no_invisible(value, field, "A folder path")
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
        _no_invisible(tag, field, "A tag")
        cleaned.append(tag)
    return sorted(set(cleaned))


def numbered(name: str, n: int) -> str:
    """`report.pdf` -> `report 2.pdf`: the name "keep both" gives an item whose name is taken in a
    folder (metadata, upload's 409 and the clients use this one rule). The stem is cut so the
    result stays within MAX_NAME."""
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    suffix = f" {n}"
    return f"{stem[: MAX_NAME - len(suffix) - len(ext)]}{suffix}{ext}"
