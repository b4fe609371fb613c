"""The indexer's HTTP route: full-text search over the caller's own documents (Premium)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from docstore_indexer.api.deps import IndexerDep, SearchIndexDep
from docstore_indexer.domain.plans import describe, has_full_text
from docstore_kit.auth import CurrentAccountId


class SearchHit(BaseModel):
    document_id: str
    name: str
    version: int
    content_type: str
    tags: list[str]
    snippet: str
    """Where the words matched, the matches wrapped in `<mark>…</mark>`."""


class SearchResults(BaseModel):
    found: int
    page: int
    hits: list[SearchHit]


router = APIRouter(tags=["search"])


@router.get(
    "/search",
    summary="Full-text search in the caller's documents (Premium)",
    responses={403: {"description": "the account is not on the Premium plan"}},
)
async def search(
    account_id: CurrentAccountId,
    indexer: IndexerDep,
    index: SearchIndexDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="words to find in text and names")],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    if not q.strip():
        raise HTTPException(422, "q: must not be blank")
    plan = await indexer.plan_of(account_id)
    if not has_full_text(plan):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"full-text search needs the Premium plan (this account is on {describe(plan)})"
        )
    result = await index.search(account_id, q.strip(), page=page, per_page=per_page)
    return SearchResults(
        found=result.found, page=result.page, hits=[SearchHit(**hit.__dict__) for hit in result.hits]
    )
