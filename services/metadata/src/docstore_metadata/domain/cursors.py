"""Opaque keyset cursors: which listing (sort, order, search) they belong to and the last key seen.

They travel in the page shape of `docstore_kit.pagination`; only this module reads them."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A cursor this listing did not hand out (garbage, or from another sort or search): 422, as on every list.
from docstore_kit.pagination import InvalidCursor

SORTS = {"modified": "modified_at", "created": "created_at", "name": "name_lower", "size": "size"}
TIME_SORTS = frozenset({"modified", "created"})
NOT_THIS_LIST = "That page link does not belong to this list. Start again from the first page."


@dataclass(frozen=True)
class Cursor:
    kind: str  # e.g. "list:modified:desc", "search:name:<fingerprint>"
    value: Any  # the last row's sort key (datetime, int or str)
    document_id: str
    resume: float | None = None
    """Opaque here: the listing strategy's state to go on from (see `adapters/keyset.py`); a
    strategy that needs none leaves it None."""


def _pack(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        return datetime.fromisoformat(value["t"])
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise ValueError("bad cursor value")


def encode_cursor(cursor: Cursor) -> str:
    body: dict[str, Any] = {"k": cursor.kind, "v": _pack(cursor.value), "i": cursor.document_id}
    if cursor.resume is not None:
        body["w"] = cursor.resume
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, kind: str) -> Cursor:
    """The cursor in `text`, which must belong to the listing `kind`."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        cursor = Cursor(
            kind=str(raw["k"]),
            value=_unpack(raw["v"]),
            document_id=str(raw["i"]),
            resume=float(raw["w"]) if "w" in raw else None,
        )
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidCursor(NOT_THIS_LIST) from error
    if cursor.kind != kind:
        raise InvalidCursor(
            "That page link was made for another sort order or search. Start again from the first page."
        )
    if cursor.resume is not None and not 0 < cursor.resume < 1e13:
        raise InvalidCursor(NOT_THIS_LIST)
    return cursor


def listing_kind(sort: str, order: str, *, trashed: bool, path: str | None) -> str:
    folder = hashlib.sha256(path.encode()).hexdigest()[:10] if path is not None else "*"
    return f"list:{sort}:{order}:{'trash' if trashed else 'live'}:{folder}"
