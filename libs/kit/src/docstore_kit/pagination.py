"""One pagination style for every list route: a cursor and a limit in, a page with a next link out.

Every list answers

    {"items": [...], "next_cursor": "<opaque>" | null, "next": "?...&cursor=...&limit=..." | null}

and takes `cursor` (what the last page's `next_cursor` held) and `limit`. A cursor is opaque to
clients: base64url of a small JSON object that only the route that handed it out reads. It is a
*position*, never a credential: the route still filters by the caller's account, so a cursor taken
from another account's page shows nothing of that account. A cursor that does not decode, or that
the route does not recognise, is a 422 problem `invalid-cursor`.

`next` is a relative reference holding only a query (RFC 3986 section 4.2): it resolves against the
URL the client called, so it works the same through the gateway's `/v1` prefix and on the
service itself, and it keeps the request's other parameters (sort, filters).

Routes that have no natural keyset use `offset_cursor` / `cursor_offset`: the position is a count
of rows already handed out.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from pydantic import BaseModel, Field

from docstore_kit.errors import Invalid

ItemT = TypeVar("ItemT")

MAX_CURSOR_CHARS = 1024
"""Longer than any cursor a route hands out; a bound on what a request can make a route decode."""

CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        description="The `next_cursor` of the page before; omit for the first page",
    ),
]


class InvalidCursor(Invalid):
    """A cursor this route did not hand out (garbage, or from another listing): 422."""

    problem: ClassVar[str] = "invalid-cursor"
    title: ClassVar[str] = "Invalid cursor"


class Page(BaseModel, Generic[ItemT]):
    """One page of a list. Subclass per item type (`class DocumentPage(Page[DocumentOut])`) so the
    OpenAPI schema gets a readable name; a subclass may add members (e.g. a total)."""

    items: list[ItemT]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
    next: str | None = Field(
        description="The next page as a link relative to this request's URL (its query only); null on the last page"
    )

    @classmethod
    def of(cls, request: Request, items: Sequence[ItemT], next_cursor: str | None, limit: int, **extra: Any) -> Self:
        """The page of `items`, its `next` link built from `request`'s own query."""
        return cls(items=list(items), next_cursor=next_cursor, next=next_link(request, next_cursor, limit), **extra)


def next_link(request: Request, next_cursor: str | None, limit: int) -> str | None:
    """`?<the request's parameters>&cursor=<next_cursor>&limit=<limit>`, or None with no next page."""
    if next_cursor is None:
        return None
    kept = [(name, value) for name, value in request.query_params.multi_items() if name not in {"cursor", "limit"}]
    return "?" + urlencode([*kept, ("cursor", next_cursor), ("limit", str(limit))])


def encode_cursor(position: Mapping[str, Any]) -> str:
    """An opaque cursor holding `position` (JSON-serialisable), base64url without padding."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> dict[str, Any]:
    """The position `encode_cursor` put in `text`; InvalidCursor when it is not one."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error) as error:
        raise InvalidCursor("cursor: not a cursor from this listing; start again without one") from error
    if not isinstance(raw, dict) or not _storable(raw):
        raise InvalidCursor("cursor: not a cursor from this listing; start again without one")
    return raw


_INT64 = range(-(2**63), 2**63)


def _storable(value: Any) -> bool:
    """Whether every value in a decoded cursor can go into a database query: a forged cursor may
    hold an integer of 2**63 or more (BSON has none: a 500) or a lone surrogate (no UTF-8)."""
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value in _INT64
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def offset_cursor(offset: int) -> str:
    """A cursor for a list read by position: `offset` rows have been handed out."""
    return encode_cursor({"o": offset})


def cursor_offset(cursor: str | None, *, limit: int = 100_000) -> int:
    """The offset in an `offset_cursor` (0 without a cursor); InvalidCursor for anything else, or
    past `limit` (so a forged cursor cannot ask the database to skip without bound)."""
    if cursor is None:
        return 0
    offset = decode_cursor(cursor).get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= limit:
        raise InvalidCursor("cursor: not a cursor from this listing; start again without one")
    return offset
