"""A document's full-text state, as its answers show it. Pure functions.

The indexer reports each version's outcome (`document.indexed`, `document.index-failed`);
metadata keeps the latest on the document (`full_text`: version, state, reason) and answers
with it: `indexed`, `failed` (with the reason and what the person can do about it), `pending`
(Premium, no outcome yet for the current version) or `not_indexed` (the owner is on Free:
documents are found by name, tags and dates only). `reason` stays the indexer's precise words
("unreadable PDF: PdfReadError: EOF marker not found"); `detail` says the same for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INDEXED, FAILED, PENDING, NOT_INDEXED = "indexed", "failed", "pending", "not_indexed"

_ADVICE: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("encrypted", "password"),
        "Remove the password (save an unprotected copy) and upload it again.",
    ),
    (
        ("timed out", "ran out of time"),
        "It took too long to read; splitting it into smaller files and uploading those may help.",
    ),
    (
        ("too large", "zip bomb"),
        "It is too large to read; a smaller file (fewer or smaller pages or images) can be indexed.",
    ),
    (
        ("unreadable", "corrupt", "not a valid", "not an rtf"),
        "The file looks damaged or incomplete: upload it again from the original.",
    ),
    (
        ("legacy binary",),
        "Save it in a current format (for example .docx or PDF) and upload it again.",
    ),
)
OTHERWISE = "Uploading it again in another format (PDF or plain text) may help."

_DETAIL: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("legacy binary",),
        "It is protected with a password or saved in an old Office format, so its words could not be read.",
    ),
    (("encrypted", "password"), "It is protected with a password, so its words could not be read."),
    (("timed out", "ran out of time"), "Reading its words took too long, so they could not be indexed."),
    (("too large", "zip bomb"), "It is too large for its words to be read."),
    (
        ("unreadable", "corrupt", "not a valid", "not an rtf"),
        "It looks damaged or incomplete, so its words could not be read.",
    ),
)
COULD_NOT_READ = "Its words could not be read."
DETAIL_INDEXED = "Its words are searchable."
DETAIL_PENDING = "Being indexed: its words will be searchable in a moment."
DETAIL_NOT_INDEXED = "Not searched inside: full-text search is a Premium feature."
FOUND_BY_NAME = "It is still found by its name, tags and dates."


def advice(reason: str) -> str:
    """What the person can do about a failure whose `reason` the indexer gave."""
    lowered = reason.lower()
    for words, what in _ADVICE:
        if any(word in lowered for word in words):
            return what
    return OTHERWISE


def detail(reason: str) -> str:
    """A failure whose `reason` the indexer gave, said for people (no error class, no byte count)."""
    lowered = reason.lower()
    for words, what in _DETAIL:
        if any(word in lowered for word in words):
            return what
    return COULD_NOT_READ


def outcome(version: int, *, failed_reason: str | None) -> dict[str, Any]:
    """What the document stores for an indexing outcome of `version`."""
    if failed_reason is None:
        return {"version": version, "state": INDEXED, "reason": None}
    return {"version": version, "state": FAILED, "reason": failed_reason}


def supersedes(stored: Mapping[str, Any] | None, version: int) -> bool:
    """Whether the outcome for `version` replaces the stored one (a later version's outcome is
    never overwritten by an earlier version's that arrives late; the same version's latest wins)."""
    return stored is None or version >= int(stored.get("version") or 0)


def full_text_of(document: Mapping[str, Any], owner_plan: str | None) -> dict[str, Any]:
    """The `full_text` of a document's answer: {state, reason, advice, detail}."""
    if owner_plan != "premium":
        return {
            "state": NOT_INDEXED,
            "reason": "Full-text search is a Premium feature.",
            "advice": FOUND_BY_NAME,
            "detail": DETAIL_NOT_INDEXED,
        }
    stored = document.get("full_text") or {}
    if stored.get("version") != document.get("current_version"):
        return {"state": PENDING, "reason": None, "advice": None, "detail": DETAIL_PENDING}
    if stored.get("state") == FAILED:
        reason = str(stored.get("reason") or "the text could not be read")
        return {
            "state": FAILED,
            "reason": reason,
            "advice": f"{advice(reason)} {FOUND_BY_NAME}",
            "detail": detail(reason),
        }
    return {"state": INDEXED, "reason": None, "advice": None, "detail": DETAIL_INDEXED}
