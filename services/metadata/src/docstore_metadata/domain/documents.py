"""Documents and versions: pure rules (names, folders, tags, search keys, conflicts, retention)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docstore_events import names
from docstore_events.names import MAX_NAME

# The kinds of entry the change feed carries.
CHANGE_KINDS = ("created", "modified", "renamed", "moved", "tagged", "trashed", "restored", "deleted", "conflict")


class InvalidDetails(ValueError):
    """A name, folder or tag list that breaks a rule; the message says which."""


@dataclass(frozen=True)
class VersionRecorded:
    """The outcome of recording an upload: which document and version it became."""

    document_id: str
    version: int
    is_new_document: bool
    conflict_of: str | None = None


def next_version(current_version: int | None) -> int:
    return 1 if current_version is None else current_version + 1


# --- names, folders, tags: the rules `upload` applies to a grant (docstore_events.names) -----


@contextmanager
def _invalid_details() -> Iterator[None]:
    """Turns the shared rules' InvalidName into this service's InvalidDetails (same message)."""
    try:
        yield
    except names.InvalidName as error:
        raise InvalidDetails(str(error)) from error


def check_name(name: str) -> str:
    """A document name, trimmed and NFC (see `docstore_events.names.check_name`)."""
    with _invalid_details():
        return names.check_name(name, field="name")


def check_path(path: str) -> str:
    """A folder: absolute, '/'-separated, no '.' or '..' segments, no control characters."""
    with _invalid_details():
        return names.check_path(path)


def check_tags(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, deduplicated and sorted (see `docstore_events.names.check_tags`)."""
    with _invalid_details():
        return names.check_tags(tags)


def full_path(path: str, name: str) -> str:
    """Folder + name, as a sync client names a file: `/reports/q1.pdf`."""
    return f"{path.rstrip('/')}/{name}"


# --- search keys --------------------------------------------------------------------------


def name_key(name: str) -> str:
    """The form names are sorted and prefix-searched by: NFC, case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def trigrams(text: str) -> list[str]:
    """Every 3-character window of the name key, sorted (a multikey index holds them)."""
    key = name_key(text)
    return sorted({key[i : i + 3] for i in range(len(key) - 2)})


# Letters in rough order of frequency in file names; a trigram made of rare ones selects fewer documents.
_COMMON = "etaoinsrhldcupmfgwybvkxjqz"


def rarest_trigram(grams: list[str]) -> str:
    """The trigram most likely to select few documents: the index lookup that drives a substring search."""

    def commonness(gram: str) -> int:
        return sum(26 - _COMMON.index(ch) if ch in _COMMON else 0 for ch in gram)

    return min(grams, key=lambda g: (commonness(g), g))


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (code point order,
    which is MongoDB's binary string order), or None when there is none."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        nxt = last + 1
        if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be encoded; skip to the next scalar value
            nxt = 0xE000
        if nxt <= 0x10FFFF:
            return "".join(chars) + chr(nxt)
    return None


@dataclass(frozen=True)
class SearchCriteria:
    name: str | None = None
    name_match: str = "prefix"
    created_from: datetime | None = None
    created_to: datetime | None = None
    modified_from: datetime | None = None
    modified_to: datetime | None = None
    tags: tuple[str, ...] = ()
    content_type: str | None = None

    def fingerprint(self) -> str:
        """A short stable digest: a cursor from one search is refused by another."""
        import hashlib

        raw = repr((self.name and name_key(self.name), self.name_match, self.created_from, self.created_to,
                    self.modified_from, self.modified_to, self.tags, self.content_type))
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


def check_criteria(criteria: SearchCriteria) -> SearchCriteria:
    if criteria.name_match not in ("prefix", "substring"):
        raise InvalidDetails("name_match: prefix or substring")
    if criteria.name is not None and not criteria.name.strip():
        raise InvalidDetails("name: must not be empty")
    if criteria.name_match == "substring" and criteria.name is not None and len(name_key(criteria.name)) < 3:
        raise InvalidDetails("name: a substring search needs at least 3 characters (use name_match=prefix)")
    if not any((criteria.name, criteria.created_from, criteria.created_to, criteria.modified_from,
                criteria.modified_to, criteria.tags, criteria.content_type)):
        raise InvalidDetails("give at least one of name, created_from/to, modified_from/to, tags, content_type")
    return criteria


def _in_range(value: datetime, low: datetime | None, high: datetime | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


def matches(doc: Mapping[str, Any], criteria: SearchCriteria) -> bool:
    """Whether a document fetched through the driving index meets every criterion (the residual check)."""
    if doc.get("trashed"):
        return False
    if criteria.name:
        key = doc.get("name_lower") or name_key(doc["name"])
        wanted = name_key(criteria.name)
        if criteria.name_match == "prefix" and not key.startswith(wanted):
            return False
        if criteria.name_match == "substring" and re.search(re.escape(wanted), key) is None:
            return False
    if not _in_range(doc["created_at"], criteria.created_from, criteria.created_to):
        return False
    if not _in_range(doc["modified_at"], criteria.modified_from, criteria.modified_to):
        return False
    if criteria.tags and not set(criteria.tags) <= set(doc.get("tags", [])):
        return False
    return not (criteria.content_type and doc.get("content_type") != criteria.content_type)


# --- conflicts ----------------------------------------------------------------------------


def conflict_copy_name(name: str, at: datetime) -> str:
    """`report.pdf` -> `report (conflict copy 2026-11-22 1432).pdf`: the later of two writes
    from the same base keeps its bytes under this name, in the same folder."""
    stamp = at.strftime("%Y-%m-%d %H%M")
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    suffix = f" (conflict copy {stamp})"
    stem = stem[: MAX_NAME - len(suffix) - len(ext)]
    return f"{stem}{suffix}{ext}"


# --- retention ----------------------------------------------------------------------------


def versions_to_prune(version_numbers: Iterable[int], cap: int) -> list[int]:
    """The oldest versions beyond the newest `cap`; the current (highest) version is never pruned."""
    ordered = sorted(set(version_numbers))
    keep = max(cap, 1)
    return ordered[: max(len(ordered) - keep, 0)]


@dataclass(frozen=True)
class Freed:
    keys: list[tuple[str, str]]  # (bucket, key) no longer referenced
    size: int  # bytes those objects held


def freed_objects(removed: Iterable[Mapping[str, Any]], remaining: Iterable[Mapping[str, Any]]) -> Freed:
    """Objects of removed versions that no remaining version points at (a restore reuses an object),
    and the bytes they held, each object counted once."""
    kept = {(v["bucket"], v["key"]) for v in remaining}
    freed: dict[tuple[str, str], int] = {}
    for version in removed:
        ref = (version["bucket"], version["key"])
        if ref not in kept:
            freed[ref] = version["size"]
    return Freed(keys=sorted(freed), size=sum(freed.values()))


# --- sync compare -------------------------------------------------------------------------


def compare(client_files: Iterable[tuple[str, str]], server_docs: Iterable[Mapping[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Client (path, sha256) pairs against the server's live documents.

    Returns (one answer per client file, server documents the client did not list). When a folder
    holds two documents with the same name, the most recently modified one answers.
    """
    by_path: dict[str, Mapping[str, Any]] = {}
    for doc in sorted(server_docs, key=lambda d: d["modified_at"]):
        by_path[full_path(doc.get("path", "/"), doc["name"])] = doc
    answers, listed = [], set()
    for path, sha256 in client_files:
        listed.add(path)
        doc = by_path.get(path)
        if doc is None:
            answers.append({"path": path, "status": "unknown_on_server"})
        elif doc["sha256"] == sha256:
            answers.append({"path": path, "status": "same", "document_id": doc["_id"], "version": doc["current_version"],
                            "sha256": doc["sha256"]})
        else:
            answers.append({"path": path, "status": "server_newer", "document_id": doc["_id"],
                            "version": doc["current_version"], "sha256": doc["sha256"]})
    only_server = [
        {"path": path, "document_id": doc["_id"], "version": doc["current_version"], "sha256": doc["sha256"]}
        for path, doc in sorted(by_path.items()) if path not in listed
    ]
    return answers, only_server
