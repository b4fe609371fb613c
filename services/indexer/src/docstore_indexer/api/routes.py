"""The indexer's HTTP routes: full-text search over the caller's own documents (Premium),
and the progress of the backfill that follows an upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from docstore_indexer.adapters.search_index import Filters
from docstore_indexer.api.deps import SearchDep
from docstore_kit.auth import CurrentAccountId


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


class SearchResults(BaseModel):
    found: int
    page: int
    per_page: int
    hits: list[SearchHit]


class IndexStatus(BaseModel):
    state: Literal["idle", "backfilling", "complete"]
    """`backfilling` while the documents stored before an upgrade to Premium are being indexed."""
    indexed: int
    failed: int
    """Documents whose text could not be extracted (they are still found by name and tags)."""
    total: int
    started_at: datetime | None = None
    finished_at: datetime | None = None


router = APIRouter(tags=["search"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "the account is not on the Premium plan"}}


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
    content_type: Annotated[list[str], Query(max_length=20, description="only documents of any of these types")] = [],  # noqa: B006  (FastAPI copies a default per request)
    created_from: Annotated[datetime | date | None, Query(description="uploaded at or after (ISO 8601)")] = None,
    created_to: Annotated[datetime | date | None, Query(description="uploaded at or before (ISO 8601)")] = None,
    sort: Annotated[Literal["relevance", "newest"], Query()] = "relevance",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    if not q.strip():
        raise HTTPException(422, "q: must not be blank")
    filters = Filters(
        tags=tuple(t for t in tag if t.strip()),
        content_types=tuple(t.strip().lower() for t in content_type if t.strip()),
        created_from=_unix(created_from, end=False),
        created_to=_unix(created_to, end=True),
    )
    result = await use_case.search(account_id, q.strip(), page=page, per_page=per_page, filters=filters, sort=sort)
    return SearchResults(
        found=result.found,
        page=result.page,
        per_page=per_page,
        hits=[
            SearchHit(**{**hit.__dict__, "created_at": datetime.fromtimestamp(hit.created_at, UTC)})
            for hit in result.hits
        ],
    )


@router.get("/search/status", summary="How much of the caller's account is indexed (Premium)", responses=FORBIDDEN)
async def search_status(account_id: CurrentAccountId, use_case: SearchDep) -> IndexStatus:
    return IndexStatus(**await use_case.status(account_id))
