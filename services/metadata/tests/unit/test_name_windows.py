"""Which index ranges the windowed strategy reads when it pages through a folder by name.

SecantusDB reads a whole index range before it applies a limit, so what a page costs there is the
number of rows in the ranges its queries bound. This test counts them on an in-memory collection
that answers the walk's range queries as a server would (the rows it returns are also checked on
the real server, `tests/integration/test_listing_windows.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from docstore_metadata.adapters.keyset import Scan, WindowedKeyset

PAGE = 200


class _Ranges:
    """A collection that answers `find(equal fields + one range).sort(...).limit(n)` and
    remembers how many rows each query's range held before its limit."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.read: list[int] = []
        self.saved: dict[str, Any] = {}

    def find(self, query: dict[str, Any]) -> _Ranges._Cursor:
        def matches(row: dict[str, Any]) -> bool:
            for field, want in query.items():
                if not isinstance(want, dict):
                    if row[field] != want:
                        return False
                    continue
                value = row[field]
                for op, bound in want.items():
                    if not {"$gt": value > bound, "$gte": value >= bound, "$lt": value < bound}[op]:
                        return False
            return True

        found = [row for row in self.rows if matches(row)]
        self.read.append(len(found))
        return _Ranges._Cursor(found)

    class _Cursor:
        def __init__(self, rows: list[dict[str, Any]]) -> None:
            self.rows, self.n = rows, len(rows)

        def sort(self, keys: list[tuple[str, int]]) -> _Ranges._Cursor:
            for field, direction in reversed(keys):
                self.rows.sort(key=lambda row, field=field: row[field], reverse=direction < 0)
            return self

        def limit(self, n: int) -> _Ranges._Cursor:
            self.n = n
            return self

        async def to_list(self, _: int) -> list[dict[str, Any]]:
            return self.rows[: self.n]

    async def find_one(self, query: dict[str, Any]) -> Any:
        return self.saved.get(query["_id"])

    async def replace_one(self, query: dict[str, Any], row: dict[str, Any], upsert: bool) -> None:
        self.saved[query["_id"]] = row


@pytest.mark.parametrize("direction", [1, -1])
async def test_a_name_page_reads_about_a_subtree_not_its_parents_rest(direction: int) -> None:
    names = [f"doc-{i:06d}.txt" for i in range(3_000)]
    documents = _Ranges([{"_id": f"id-{i:05d}", "account_id": "a", "name_lower": n} for i, n in enumerate(names)])
    listing = WindowedKeyset({"documents": documents, "listing_edges": _Ranges([])})  # type: ignore[arg-type]  # the two collections it reads
    scan = Scan("list:name:asc:/", {"account_id": "a"}, "name_lower", direction, listing=True)

    seen: list[str] = []
    widest: list[int] = []
    after, window = None, None
    while True:
        documents.read.clear()
        rows, window, _ = await listing.read(scan, after, PAGE + 1, window)
        page = rows[:PAGE]
        seen += [row["name_lower"] for row in page]
        if after is not None:  # a first page without a remembered edge reads the whole folder once
            widest.append(max(documents.read))
        if len(rows) <= PAGE:
            break
        after, window = (page[-1]["name_lower"], page[-1]["_id"]), listing.cursor_window(scan, window)

    assert seen == names[::direction]
    # Every name window is one trie subtree or its rest: here at most the 1,000 names under
    # `doc-00N`. Going up a level at a subtree's end read the rest of `doc-00`: all 2,000 names
    # for one page of 200.
    assert max(widest) <= 1_000, widest
