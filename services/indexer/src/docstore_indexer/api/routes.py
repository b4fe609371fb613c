"""The indexer's HTTP routes: full-text search over the caller's own documents (Premium),
and the progress of the backfill that follows an upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from docstore_indexer.adapters.search_index import Filters
from docstore_indexer.api.deps import SearchDep
from docstore_indexer.domain.search import content_types
from docstore_kit.auth import CurrentAccountId
from docstore_kit.pagination import CursorQuery, InvalidCursor, Page, cursor_offset, offset_cursor


class SearchHit(BaseModel):
    document_id: str
    name: str
    version: int
    content_type: str
    tags: list[str]
    path: str
    created_at: datetime
    """When this version was uploaded."""
    snippet: str = Field(
        description="Where the words matched, as an HTML fragment: the document's text is HTML-escaped "
        "(`<` is `&lt;`, `&` is `&amp;`, quotes are `&quot;`/`&#x27;`) and the only markup is "
        "`<mark>`…`</mark>` around each match. Safe to insert as HTML; a client that shows "
        "text instead must unescape those five entities. Empty when only the tags matched.",
        examples=["…the &lt;b&gt;budget&lt;/b&gt; was <mark>approved</mark> on Monday…"],
    )


class SearchResults(Page[SearchHit]):
    """A page of hits, best first (or newest first), in the shared page shape."""

    found: int = Field(description="How many documents match in all")


class IndexStatus(BaseModel):
    state: Literal["idle", "enabling", "backfilling", "complete"]
    """`enabling` for a moment right after an upgrade to Premium (before its backfill starts);
    `backfilling` while the documents stored before the upgrade are being indexed."""
    indexed: int
    """Live documents whose current version's text is searchable."""
    failed: int
    """Documents whose text could not be extracted (they are still found by name and tags);
    each document's answer in `/documents` says why (`full_text`)."""
    pending: int = 0
    """Documents waiting to be indexed (just uploaded, or not yet reached by the backfill)."""
    total: int
    """All live documents: indexed + failed + pending, counted now."""
    started_at: datetime | None = None
    finished_at: datetime | None = None


router = APIRouter(tags=["search"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "the account is not on the Premium plan"}}


MAX_PAGE = 10_000
"""Typesense counts hits in pages; the deepest one a cursor may name."""


def _page_of(cursor: str | None, limit: int) -> int:
    """The Typesense page a search cursor points at. The cursor holds the number of hits already
    handed out, so it only fits the `limit` it was made with (which `next` keeps)."""
    offset = cursor_offset(cursor, limit=MAX_PAGE * 100)
    if offset % limit:
        raise InvalidCursor("cursor: made for another limit; keep the limit of the first page (the next link does)")
    page = offset // limit + 1
    if page > MAX_PAGE:
        raise InvalidCursor("cursor: past the last page a search can reach")
    return page


def _unix(value: datetime | date | None, *, end: bool) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):  # a bare date covers the whole day
        value = datetime.combine(value, time.max if end else time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


@router.get("/search", summary="Full-text search in the caller's documents (Premium)", responses=FORBIDDEN)
async def search(
    request: Request,
    account_id: CurrentAccountId,
    use_case: SearchDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            description='words to find in text, names and tags; "quoted words" as a phrase',
        ),
    ],
    tag: Annotated[list[str], Query(max_length=20, description="only documents with every one of these tags")] = [],  # noqa: B006  (FastAPI copies a default per request)
    content_type: Annotated[
        list[str],
        Query(
            max_length=20,
            description="only documents of any of these types: MIME types (`application/pdf`) "
            "or file extensions (`pdf`, `docx`, `png`); anything else is a 422",
        ),
    ] = [],  # noqa: B006  (FastAPI copies a default per request)
    created_from: Annotated[datetime | date | None, Query(description="uploaded at or after (ISO 8601)")] = None,
    created_to: Annotated[datetime | date | None, Query(description="uploaded at or before (ISO 8601)")] = None,
    sort: Annotated[Literal["relevance", "newest"], Query()] = "relevance",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
) -> SearchResults:
    page = _page_of(cursor, limit)
    if not q.strip():
        raise HTTPException(422, "q: must not be blank")
    filters = Filters(
        tags=tuple(t for t in tag if t.strip()),
        content_types=content_types(content_type),
        created_from=_unix(created_from, end=False),
        created_to=_unix(created_to, end=True),
    )
    result = await use_case.search(account_id, q.strip(), page=page, per_page=limit, filters=filters, sort=sort)
    hits = [
        SearchHit(**{**hit.__dict__, "created_at": datetime.fromtimestamp(hit.created_at, UTC)}) for hit in result.hits
    ]
    handed_out = page * limit
    more = handed_out < result.found and page < MAX_PAGE
    return SearchResults.of(request, hits, offset_cursor(handed_out) if more else None, limit, found=result.found)


@router.get("/search/status", summary="How much of the caller's account is indexed (Premium)", responses=FORBIDDEN)
async def search_status(account_id: CurrentAccountId, use_case: SearchDep) -> IndexStatus:
    return IndexStatus(**await use_case.status(account_id))
