"""Previews (thumbnails) of document versions, as metadata keeps and answers them. Pure rules.

The indexer renders each version and reports `document.preview-ready` (both sizes stored in S3)
or `document.preview-failed` (`reason`; "unsupported type" for a type without a renderer: clients
show a typed icon). Each version row keeps `preview {state, reason, small, large}`; a version
without one is `pending` (recorded, no outcome yet). The document keeps the latest version's
outcome as `preview {version, state, reason}`, so a listing answers without reading versions:
an outcome for an older version than the current one reads as `pending` for the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docstore_kit.errors import Conflict, Invalid, NotFound

PENDING, READY, FAILED = "pending", "ready", "failed"
SIZES = ("small", "large")
PREVIEW_PREFIX = "previews/"


class PreviewNotFound(NotFound):
    """The version has no preview: it failed (or its type has no renderer), or the version is gone."""

    problem = "preview-not-found"
    title = "No preview"


class PreviewPending(Conflict):
    """The version's preview is not rendered yet: ask again a little later."""

    problem = "preview-pending"
    title = "Preview not ready yet"

    def extra(self) -> dict[str, Any]:
        return {"state": PENDING}


class UnknownSize(Invalid):
    problem = "invalid"
    title = "Invalid request"


def image_of(image: Any) -> dict[str, Any]:
    """What a version stores of one rendered size (an event's `PreviewImage` or a mapping)."""
    data = image.model_dump() if hasattr(image, "model_dump") else dict(image)
    return {
        "key": str(data["key"]),
        "width": int(data["width"]),
        "height": int(data["height"]),
        "content_type": str(data["content_type"]),
        "size": int(data["size"]),
    }


def belongs_to(key: str, account_id: str, document_id: str, version: int) -> bool:
    """Whether `key` is under this version's derived preview prefix
    (`previews/{region}/{account_id}/{document_id}/v{version}/`): metadata signs nothing else."""
    if not key.startswith(PREVIEW_PREFIX) or ".." in key:
        return False
    parts = key.split("/")
    # previews, region, account, document, v{n}, file
    return len(parts) == 6 and parts[2:5] == [account_id, document_id, f"v{version}"] and bool(parts[5])


def ready(small: Mapping[str, Any], large: Mapping[str, Any]) -> dict[str, Any]:
    """A version's stored preview once both sizes are in S3."""
    return {"state": READY, "reason": None, "small": dict(small), "large": dict(large)}


def failed(reason: str) -> dict[str, Any]:
    """A version's stored preview when the indexer gave up (`reason` shown to people)."""
    return {"state": FAILED, "reason": reason or "the preview could not be made", "small": None, "large": None}


def summary(version: int, stored: Mapping[str, Any]) -> dict[str, Any]:
    """What the document keeps of its latest version's outcome."""
    return {"version": version, "state": stored["state"], "reason": stored.get("reason")}


def supersedes(stored: Mapping[str, Any] | None, version: int) -> bool:
    """Whether an outcome for `version` replaces the document's summary: a later version's is
    never overwritten by an earlier version's arriving late (that one updates only its version)."""
    return stored is None or version >= int(stored.get("version") or 0)


def preview_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `preview {state, reason}` of a document's answer: its current version's outcome,
    `pending` while there is none."""
    stored = document.get("preview") or {}
    if stored.get("version") != document.get("current_version") or stored.get("state") not in (READY, FAILED):
        return {"state": PENDING, "reason": None}
    return {"state": stored["state"], "reason": stored.get("reason") if stored["state"] == FAILED else None}


def version_preview(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """A version row's stored preview; `pending` when the row has no outcome yet."""
    if row is None:
        raise PreviewNotFound("This version does not exist (or was pruned): it has no preview.")
    return dict(row.get("preview") or {"state": PENDING, "reason": None, "small": None, "large": None})


def image_to_serve(row: Mapping[str, Any] | None, size: str) -> dict[str, Any]:
    """The stored image of `size` for a version row: 409 `{state: pending}` while it is rendered,
    404 when it failed, has no renderer or the version is gone."""
    if size not in SIZES:
        raise UnknownSize(f"size must be one of {', '.join(SIZES)}")
    preview = version_preview(row)
    if preview.get("state") == PENDING:
        raise PreviewPending("The preview of this version is still being made; try again in a moment.")
    image = preview.get(size) if preview.get("state") == READY else None
    if not image:
        reason = preview.get("reason") or "no preview was made"
        raise PreviewNotFound(f"This version has no preview ({reason}).")
    return dict(image)
