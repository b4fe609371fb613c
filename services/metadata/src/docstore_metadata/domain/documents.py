"""Documents and versions: pure rules (names, folders, tags, search keys, conflicts, details,
trash, retention) and the refusals of the document use cases (each a `DomainError`).

Documents are the mappings MongoDB stores (`_id`, `account_id`, `name`, `current_version`, ...);
the functions here compute what changes, the use cases (`service_layer/documents.py`) store it."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from docstore_events import UploadCompleted, names
from docstore_events.names import MAX_NAME
from docstore_kit.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""No document predates this: a document not claimed for purging has `purge_claimed_at` EPOCH."""

CONFLICT_NAMESPACE = uuid.UUID("6f1c6c1e-8f0a-4d3e-9a57-0c2b1f6d0e11")

# The kinds of entry the change feed carries.
CHANGE_KINDS = ("created", "modified", "renamed", "moved", "tagged", "trashed", "restored", "deleted", "conflict")


class InvalidDetails(Invalid):
    """A name, folder or tag list that breaks a rule; the message says which, for people, and
    `field` names the request member at fault, for programs."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, Any]:
        # The request member at fault, for programs; the message says it in words.
        return {"field": self.field} if self.field else {}


class DocumentNotFound(NotFound):
    """No such document for this account (someone else's answers the same)."""

    def __init__(self, document_id: str) -> None:
        super().__init__("This document could not be found. It may have been deleted, or it is not shared with you.")
        self.document_id = document_id


class VersionNotFound(NotFound):
    """No such version of the document (never existed, or pruned)."""

    def __init__(self, version: int | None) -> None:
        super().__init__(
            f"Version {version} of this document could not be found." if version else "This version could not be found."
        )
        self.version = version


class InTrash(Conflict):
    """The document is in the trash: restore it first."""

    def __init__(self, document_id: str) -> None:
        super().__init__("This document is in the trash. Restore it first.")
        self.document_id = document_id


class NameTaken(Conflict):
    """Another live document holds this name in this folder: one live document per name (NFC,
    case kept), so a sync client never sees two documents at one path."""

    def __init__(self, path: str, name: str) -> None:
        where = "your top folder" if path == "/" else path
        super().__init__(f"There is already a document called \u201c{name}\u201d in {where}. Choose another name.")
        self.path = path
        self.name = name

    def extra(self) -> dict[str, Any]:
        return {"field": "name"}


class NotInTrash(Conflict):
    """Restore from the trash of a document that is not there."""

    def __init__(self, document_id: str) -> None:
        super().__init__("This document is not in the trash.")
        self.document_id = document_id


class TrashExpired(DomainError):
    """The restore window has passed; the document is being purged (410)."""

    status: ClassVar[int] = 410
    problem: ClassVar[str] = "trash-expired"
    title: ClassVar[str] = "Gone"

    def __init__(self, document_id: str) -> None:
        super().__init__("This document has been in the trash too long to be restored.")
        self.document_id = document_id


class NotOwner(Forbidden):
    """An upload for a document that belongs to another account."""

    def detail(self) -> str:
        # The message is the document id; the answer does not echo it.
        return "This document belongs to another account."


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
    """Turns the shared rules' InvalidName into this service's InvalidDetails (same message and field)."""
    try:
        yield
    except names.InvalidName as error:
        raise InvalidDetails(str(error), field=error.field) from error


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


def search_keys(name: str) -> dict[str, Any]:
    """The derived fields a document's name is listed and searched by."""
    return {"name_lower": name_key(name), "name_trigrams": trigrams(name)}


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
        raw = repr(
            (
                self.name and name_key(self.name),
                self.name_match,
                self.created_from,
                self.created_to,
                self.modified_from,
                self.modified_to,
                self.tags,
                self.content_type,
            )
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


def check_criteria(criteria: SearchCriteria) -> SearchCriteria:
    if criteria.name_match not in ("prefix", "substring"):
        raise InvalidDetails("Names are matched either from the start or anywhere inside them.", field="name_match")
    if criteria.name is not None and not criteria.name.strip():
        raise InvalidDetails("Type a name to search for.", field="name")
    if criteria.name_match == "substring" and criteria.name is not None and len(name_key(criteria.name)) < 3:
        raise InvalidDetails(
            "Type at least 3 characters to search inside names, or search names by how they start.", field="name"
        )
    if not any(
        (
            criteria.name,
            criteria.created_from,
            criteria.created_to,
            criteria.modified_from,
            criteria.modified_to,
            criteria.tags,
            criteria.content_type,
        )
    ):
        raise InvalidDetails("Choose at least one thing to search by: a name, a date, a tag or a file type.")
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


def conflict_copy_name(name: str, at: datetime, tag: str = "") -> str:
    """`report.pdf` -> `report (conflict copy 2026-11-22 143201 1a2b3c).pdf`: the later of two
    writes from the same base keeps its bytes under this name, in the same folder. The time to the
    second and `tag` (the copy's own id, shortened: `conflict_copy_id`) keep two copies made side
    by side apart; `numbered` is the last resort when a name is still taken."""
    stamp = at.strftime("%Y-%m-%d %H%M%S")
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    suffix = f" (conflict copy {stamp}{' ' + tag if tag else ''})"
    stem = stem[: MAX_NAME - len(suffix) - len(ext)]
    return f"{stem}{suffix}{ext}"


def numbered(name: str, n: int) -> str:
    """`report.pdf` -> `report 2.pdf` (the counter when a name is taken; `docstore_events.names`)."""
    return names.numbered(name, n)


def conflict_copy_id(upload_id: str) -> str:
    """The conflict copy's id, derived from the upload so a redelivered event makes the same one."""
    return str(uuid.uuid5(CONFLICT_NAMESPACE, f"conflict:{upload_id}"))


def is_conflict(document: Mapping[str, Any] | None, base_version: int | None) -> bool:
    """First write wins: an upload based on a version that is no longer current loses."""
    return document is not None and base_version is not None and base_version != document["current_version"]


# --- versions and documents as stored -----------------------------------------------------


def version_row(event: UploadCompleted, document_id: str, version: int, now: datetime) -> dict[str, Any]:
    """The stored version an upload becomes."""
    return {
        "_id": f"{document_id}:{version}",
        "document_id": document_id,
        "account_id": event.account_id,
        "version": version,
        "upload_id": event.upload_id,
        "bucket": event.bucket,
        "key": event.key,
        "size": event.size,
        "etag": event.etag,
        "sha256": event.sha256,
        "content_type": event.content_type,
        "filename": event.filename,
        "created_at": now,
    }


def restored_version_row(old: Mapping[str, Any], document_id: str, version: int, now: datetime) -> dict[str, Any]:
    """Version `version` pointing at the same object as `old` (a restore copies no bytes)."""
    return {
        **old,
        "_id": f"{document_id}:{version}",
        "version": version,
        "upload_id": f"restore:{document_id}:{version}",
        "restored_from": old["version"],
        "created_at": now,
    }


def replaced_version_row(source: Mapping[str, Any], document_id: str, version: int, now: datetime) -> dict[str, Any]:
    """Version `version` of `document_id` pointing at the object of another document's version
    `source` (a move that replaces: the moved document's bytes become the holder's newest
    version, no byte copied). Two version rows then share one object: `freed_objects` keeps an
    object while any version, of any document, still points at it."""
    return {
        **source,
        "_id": f"{document_id}:{version}",
        "document_id": document_id,
        "version": version,
        "upload_id": f"replace:{document_id}:{version}",
        "replaced_from": {"document_id": source["document_id"], "version": source["version"]},
        "created_at": now,
    }


def current_of(version: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The fields of a document that follow its current version."""
    return {
        "current_version": version["version"],
        "size": version["size"],
        "sha256": version["sha256"],
        "content_type": version["content_type"],
        "modified_at": now,
    }


def new_document(
    event: UploadCompleted,
    now: datetime,
    *,
    document_id: str,
    name: str,
    path: str,
    tags: list[str],
    title: str | None,
) -> dict[str, Any]:
    """A document at version 1 (its stored defaults for trash and purge come with it)."""
    return {
        "_id": document_id,
        "account_id": event.account_id,
        "name": name,
        **search_keys(name),
        "title": title,
        "tags": tags,
        "path": path,
        "created_at": now,
        "current_version": 1,
        "size": event.size,
        "sha256": event.sha256,
        "content_type": event.content_type,
        "modified_at": now,
        "trashed": False,
        "trashed_at": None,
        "purge_claimed_at": EPOCH,
    }


def change_entry(kind: str, document: Mapping[str, Any], now: datetime, **extra: Any) -> dict[str, Any]:
    """One entry of the account's change feed (its `seq` is given when it is stored)."""
    return {
        "account_id": document["account_id"],
        "kind": kind,
        "document_id": document["_id"],
        "path": document.get("path", "/"),
        "name": document["name"],
        "version": document.get("current_version"),
        "sha256": document.get("sha256"),
        "at": now,
        **extra,
    }


# --- details and trash ----------------------------------------------------------------------


def live(document: Mapping[str, Any] | None, document_id: str) -> Mapping[str, Any]:
    """The document, which must exist and not be in the trash."""
    if document is None:
        raise DocumentNotFound(document_id)
    if document.get("trashed"):
        raise InTrash(document_id)
    return document


def detail_changes(
    document: Mapping[str, Any],
    *,
    name: str | None,
    tags: list[str] | None,
    path: str | None,
) -> tuple[dict[str, Any], list[str]]:
    """The fields to set to rename, re-tag or move `document` (already checked values), and the
    change-feed kinds, one per aspect that really changes."""
    changes: dict[str, Any] = {}
    kinds = []
    if name is not None and name != document["name"]:
        changes.update(name=name, **search_keys(name))
        kinds.append("renamed")
    if path is not None and path != document.get("path", "/"):
        changes["path"] = path
        kinds.append("moved")
    if tags is not None and tags != sorted(document.get("tags", [])):
        changes["tags"] = tags
        kinds.append("tagged")
    return changes, kinds


def trashed(now: datetime) -> dict[str, Any]:
    """The fields that put a document in the trash (and make it claimable for purging later)."""
    return {"trashed": True, "trashed_at": now, "purge_claimed_at": EPOCH}


def restored_from_trash(document: Mapping[str, Any], now: datetime, retention: timedelta) -> dict[str, Any]:
    """The fields that take `document` out of the trash, if it may still come out."""
    if not document.get("trashed"):
        raise NotInTrash(document["_id"])
    if document["trashed_at"] <= now - retention:
        raise TrashExpired(document["_id"])
    return {"trashed": False, "trashed_at": None}


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
    """Objects of removed versions that no remaining version points at, and the bytes they held,
    each object counted once. `remaining` is every version left that may share an object with a
    removed one: the document's own (a restore reuses an object) and other documents' (a move
    that replaced, `replaced_version_row`); an object still pointed at is never freed."""
    kept = {(v["bucket"], v["key"]) for v in remaining}
    freed: dict[tuple[str, str], int] = {}
    for version in removed:
        ref = (version["bucket"], version["key"])
        if ref not in kept:
            freed[ref] = version["size"]
    return Freed(keys=sorted(freed), size=sum(freed.values()))


# --- sync compare -------------------------------------------------------------------------


def compare(
    client_files: Iterable[tuple[str, str]], server_docs: Iterable[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Client (path, sha256) pairs against the server's live documents.

    Returns (one answer per client file, server documents the client did not list). When a folder
    holds two documents with the same name, the most recently modified one answers.
    """
    by_path: dict[str, Mapping[str, Any]] = {}
    for doc in sorted(server_docs, key=lambda d: d["modified_at"]):
        by_path[full_path(doc.get("path", "/"), doc["name"])] = doc
    answers: list[dict[str, Any]] = []
    listed: set[str] = set()
    for path, sha256 in client_files:
        listed.add(path)
        found = by_path.get(path)
        if found is None:
            answers.append({"path": path, "status": "unknown_on_server"})
        elif found["sha256"] == sha256:
            answers.append(
                {
                    "path": path,
                    "status": "same",
                    "document_id": found["_id"],
                    "version": found["current_version"],
                    "sha256": found["sha256"],
                }
            )
        else:
            answers.append(
                {
                    "path": path,
                    "status": "server_newer",
                    "document_id": found["_id"],
                    "version": found["current_version"],
                    "sha256": found["sha256"],
                }
            )
    only_server = [
        {"path": path, "document_id": doc["_id"], "version": doc["current_version"], "sha256": doc["sha256"]}
        for path, doc in sorted(by_path.items())
        if path not in listed
    ]
    return answers, only_server
