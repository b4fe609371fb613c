"""The shared page shape: items, next_cursor and a relative next link; a bad cursor is a 422 problem."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from docstore_kit.errors import install_error_handlers
from docstore_kit.pagination import (
    CursorQuery,
    InvalidCursor,
    Page,
    cursor_offset,
    decode_cursor,
    encode_cursor,
    offset_cursor,
)


class Item(BaseModel):
    n: int


class ItemPage(Page[Item]):
    total: int


ROWS = list(range(7))


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def things(request: Request, cursor: CursorQuery = None, limit: int = 3, sort: str = "n") -> ItemPage:
        start = cursor_offset(cursor)
        rows = ROWS[start : start + limit]
        more = start + limit < len(ROWS)
        return ItemPage.of(
            request, [Item(n=n) for n in rows], offset_cursor(start + limit) if more else None, limit, total=len(ROWS)
        )

    return app


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        return await client.get(url)


async def test_following_next_links_walks_the_whole_list_once() -> None:
    seen: list[int] = []
    url: str | None = "/things?sort=n&limit=3"
    pages = 0
    while url is not None:
        body = (await _get(url)).json()
        assert set(body) == {"items", "next_cursor", "next", "total"}
        seen += [item["n"] for item in body["items"]]
        pages += 1
        if body["next"] is None:
            assert body["next_cursor"] is None
            url = None
        else:
            assert body["next"].startswith("?")  # relative: resolves against whatever URL was called
            query = parse_qs(body["next"][1:])
            assert query == {"sort": ["n"], "cursor": [body["next_cursor"]], "limit": ["3"]}
            url = "/things" + body["next"]
    assert seen == ROWS
    assert pages == 3


@pytest.mark.parametrize("cursor", ["garbage!", "e30", encode_cursor({"o": -1}), encode_cursor({"o": "2"}), "W10"])
async def test_a_bad_cursor_is_a_422_problem(cursor: str) -> None:
    answer = await _get(f"/things?cursor={cursor}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"] == "urn:docstore:problem:invalid-cursor"
    assert "cursor" in body["detail"]


def test_cursors_round_trip_and_are_opaque_url_safe_text() -> None:
    text = encode_cursor({"k": "list", "v": 3})
    assert "=" not in text and "/" not in text and "+" not in text
    assert decode_cursor(text) == {"k": "list", "v": 3}
    assert cursor_offset(offset_cursor(40)) == 40
    assert cursor_offset(None) == 0
    with pytest.raises(InvalidCursor):
        cursor_offset(offset_cursor(10), limit=5)
    with pytest.raises(InvalidCursor):
        decode_cursor("%%%")


def _forged(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw", ['{"seq": 9223372036854775808}', '{"v": [1, -9223372036854775809]}', '{"k": "\\ud800"}', '{"\\udc00": 1}']
)
def test_a_forged_cursor_no_database_could_take_is_refused(raw: str) -> None:
    """Issue 33: a /v1/changes cursor whose seq was 2**63 gave a 500 (BSON holds 64-bit integers)."""
    with pytest.raises(InvalidCursor):
        decode_cursor(_forged(raw))
    assert decode_cursor(_forged('{"seq": 9223372036854775807}')) == {"seq": 2**63 - 1}
