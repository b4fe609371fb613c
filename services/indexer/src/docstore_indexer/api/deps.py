"""Dependencies of the indexer's routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_indexer.adapters.search_index import SearchIndex
from docstore_indexer.domain.indexing import Indexer


def _indexer(request: Request) -> Indexer:
    return request.app.state.indexer


def _search_index(request: Request) -> SearchIndex:
    return request.app.state.search_index


IndexerDep = Annotated[Indexer, Depends(_indexer)]
SearchIndexDep = Annotated[SearchIndex, Depends(_search_index)]
