"""The full-text index in Typesense, over its HTTP API (httpx, async).

One Typesense document per DocStore document, id `<account_id>:<document_id>`. Every
query this adapter sends is filtered by one account id; there is no unfiltered search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from docstore_indexer.domain.snippets import HighlightMarks, safe_snippet
from docstore_kit.http_transport import async_client, call, lean_client


def collection_schema(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "fields": [
            {"name": "account_id", "type": "string", "facet": True},
            {"name": "document_id", "type": "string"},
            {"name": "version", "type": "int32"},
            {"name": "name", "type": "string"},
            {"name": "path", "type": "string", "optional": True},
            {"name": "tags", "type": "string[]", "facet": True},
            {"name": "content_type", "type": "string", "facet": True},
            {"name": "created_at", "type": "int64"},
            {"name": "trashed", "type": "bool", "optional": True},
            {"name": "text", "type": "string"},
        ],
        "default_sorting_field": "created_at",
    }


def literal(value: str) -> str:
    """A `filter_by` string literal; backticks keep `,`/`:`/`&&` inside it."""
    return f"`{value.replace('`', '')}`"


def account_filter(account_id: str) -> str:
    """`filter_by` matching exactly one account."""
    return f"account_id:={literal(account_id)}"


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to, besides the account (always) and not being in the trash."""

    tags: tuple[str, ...] = ()
    """Every one of these tags."""
    content_types: tuple[str, ...] = ()
    """Any one of these content types."""
    created_from: int | None = None
    created_to: int | None = None
    """Unix seconds, inclusive."""

    def clauses(self, account_id: str) -> str:
        parts = [account_filter(account_id), "trashed:!=true"]
        parts += [f"tags:=[{literal(tag)}]" for tag in self.tags]
        if self.content_types:
            parts.append(f"content_type:=[{', '.join(literal(t) for t in self.content_types)}]")
        if self.created_from is not None:
            parts.append(f"created_at:>={self.created_from}")
        if self.created_to is not None:
            parts.append(f"created_at:<={self.created_to}")
        return " && ".join(parts)


@dataclass(frozen=True)
class IndexEntry:
    account_id: str
    document_id: str
    version: int
    name: str
    tags: list[str]
    content_type: str
    created_at: int
    text: str
    path: str = "/"
    trashed: bool = False

    @property
    def id(self) -> str:
        return f"{self.account_id}:{self.document_id}"

    def as_document(self) -> dict[str, Any]:
        return {"id": self.id, **self.__dict__}


@dataclass(frozen=True)
class Hit:
    document_id: str
    name: str
    version: int
    content_type: str
    tags: list[str]
    snippet: str
    """HTML: the document's text escaped, the matches in `<mark>`/`</mark>` (see `safe_snippet`)."""
    path: str = "/"
    created_at: int = 0


@dataclass(frozen=True)
class SearchPage:
    found: int
    page: int
    hits: list[Hit] = field(default_factory=list)


class SearchIndexError(Exception):
    """Typesense answered with an error we can't treat as success."""


class SearchIndex:
    def __init__(
        self, http: httpx.AsyncClient, collection: str, *, search_http: httpx.AsyncClient | None = None
    ) -> None:
        """`http` for writes and administration; `search_http` (default: `http`) for the
        queries of `search`, the one call on a user's request path."""
        self.http = http
        self.search_http = search_http or http
        self.collection = collection
        self._docs = f"/collections/{quote(collection, safe='')}/documents"

    @classmethod
    def connect(cls, url: str, api_key: str, collection: str, *, timeout: float = 10.0) -> SearchIndex:
        """Searches go on a client of their own, kit's `ServiceClient` (`docstore_kit.
        http_transport`: its `call` goes through aiohttp, about a quarter of httpx's CPU per
        query); imports and other writes stay on httpx. `close` closes both."""
        headers = {"X-TYPESENSE-API-KEY": api_key}
        http = async_client(base_url=url, headers=headers, timeout=timeout)
        search_http = lean_client(base_url=url, headers=headers, timeout=timeout)
        return cls(http, collection, search_http=search_http)

    async def close(self) -> None:
        await self.http.aclose()
        if self.search_http is not self.http:
            await self.search_http.aclose()

    async def ensure_collection(self) -> None:
        """Create the collection if it is missing (several instances may race: 409 is fine)."""
        response = await self.http.get(f"/collections/{quote(self.collection, safe='')}")
        if response.status_code == 200:
            await self._add_missing_fields({field["name"] for field in response.json().get("fields", [])})
            return
        if response.status_code != 404:
            _raise(response)
        created = await self.http.post("/collections", json=collection_schema(self.collection))
        if created.status_code not in (201, 409):
            _raise(created)

    async def _add_missing_fields(self, present: set[str]) -> None:
        """A collection made by an older indexer gets the fields added since (all optional)."""
        missing = [
            dict(field, optional=True)
            for field in collection_schema(self.collection)["fields"]
            if field["name"] not in present
        ]
        if missing:
            patched = await self.http.patch(f"/collections/{quote(self.collection, safe='')}", json={"fields": missing})
            if patched.status_code >= 300 and "already" not in patched.text:
                _raise(patched)

    async def ready(self) -> bool:
        response = await self.http.get("/health")
        return response.status_code == 200 and bool(response.json().get("ok"))

    async def upsert(self, entry: IndexEntry) -> None:
        response = await self.http.post(self._docs, params={"action": "upsert"}, json=entry.as_document())
        _check(response)

    async def upsert_many(self, entries: list[IndexEntry]) -> dict[str, str]:
        """Upsert several entries in one import request; returns the error of each one Typesense refused, by id."""
        if not entries:
            return {}
        body = "\n".join(json.dumps(entry.as_document()) for entry in entries)
        response = await self.http.post(
            f"{self._docs}/import",
            params={"action": "upsert"},
            content=body.encode(),
            headers={"Content-Type": "text/plain"},
            timeout=max(self.http.timeout.read or 10.0, 60.0),
        )
        _check(response)
        refused: dict[str, str] = {}
        for entry, line in zip(entries, response.text.splitlines(), strict=False):
            result = json.loads(line)
            if not result.get("success"):
                refused[entry.id] = str(result.get("error", "refused"))[:300]
        return refused

    async def update(self, account_id: str, document_id: str, fields: dict[str, Any]) -> bool:
        """Change some fields of one document; False when it is not in the index."""
        response = await self.http.patch(f"{self._docs}/{quote(f'{account_id}:{document_id}', safe='')}", json=fields)
        if response.status_code == 404:
            return False
        _check(response)
        return True

    async def import_documents(self, documents: list[dict[str, Any]], *, action: str = "upsert") -> int:
        """Bulk-write documents (JSON lines through the import endpoint); returns how many failed."""
        body = "\n".join(json.dumps(document) for document in documents)
        response = await self.http.post(
            f"{self._docs}/import",
            params={"action": action},
            content=body,
            headers={"Content-Type": "text/plain"},
            timeout=300,
        )
        _check(response)
        return sum(1 for line in response.text.splitlines() if line and not json.loads(line).get("success"))

    async def delete(self, account_id: str, document_id: str) -> None:
        """Remove one document; removing one that is not there is fine."""
        response = await self.http.delete(f"{self._docs}/{quote(f'{account_id}:{document_id}', safe='')}")
        if response.status_code != 404:
            _check(response)

    async def delete_account(self, account_id: str) -> int:
        """Remove every document of `account_id`; returns how many went."""
        response = await self.http.delete(self._docs, params={"filter_by": account_filter(account_id)})
        _check(response)
        return int(response.json().get("num_deleted", 0))

    async def search(
        self,
        account_id: str,
        q: str,
        *,
        page: int,
        per_page: int,
        filters: Filters = Filters(),
        sort: str = "relevance",
    ) -> SearchPage:
        """Search the text, names and tags of `account_id`'s documents, and only theirs.

        Typo tolerant; `"quoted words"` match as a phrase; documents in the trash never match.
        """
        marks = HighlightMarks.fresh()
        params: dict[str, str | int] = {
            "q": q,
            "query_by": "name,text,tags",
            "query_by_weights": "3,1,2",
            "filter_by": filters.clauses(account_id),
            "sort_by": "created_at:desc" if sort == "newest" else "_text_match:desc,created_at:desc",
            "page": page,
            "per_page": per_page,
            "highlight_fields": "text,name",
            # Markers no document can contain (a fresh random value per query), turned into <mark> after escaping.
            "highlight_start_tag": marks.start,
            "highlight_end_tag": marks.end,
            "snippet_threshold": 30,
            "highlight_affix_num_tokens": 12,
            "exclude_fields": "text",
        }
        # `connect`'s client sends it without httpx's request objects (`docstore_kit.http_transport`).
        answer = await call(self.search_http, "GET", f"{self._docs}/search", query=urlencode(params))
        if answer.status >= 300:
            raise SearchIndexError(f"typesense GET {self._docs}/search: {answer.status} {answer.content[:300]!r}")
        body = json.loads(answer.content)
        raw_hits = body.get("hits", [])
        # Defence in depth: the filter already did this, a bug there must not leak another account.
        hits = [_hit(raw, marks) for raw in raw_hits if raw.get("document", {}).get("account_id") == account_id]
        return SearchPage(found=int(body.get("found", 0)), page=int(body.get("page", page)), hits=hits)


def _hit(raw: dict[str, Any], marks: HighlightMarks) -> Hit:
    document = raw.get("document", {})
    snippets = {h.get("field"): safe_snippet(h.get("snippet") or "", marks) for h in raw.get("highlights", [])}
    return Hit(
        document_id=document.get("document_id", ""),
        name=document.get("name", ""),
        version=int(document.get("version", 0)),
        content_type=document.get("content_type", ""),
        tags=list(document.get("tags", [])),
        snippet=snippets.get("text") or snippets.get("name") or "",
        path=document.get("path") or "/",
        created_at=int(document.get("created_at", 0)),
    )


def _check(response: httpx.Response) -> None:
    if response.status_code >= 300:
        _raise(response)


def _raise(response: httpx.Response) -> None:
    raise SearchIndexError(
        f"typesense {response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
    )
