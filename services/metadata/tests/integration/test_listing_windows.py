"""Listings and searches read their index range through a strategy (`adapters/keyset.py`): one
limited query, or bounded windows of the key with remembered first-page edges. Under either, pages
must be exactly the keyset order, whatever the spread of the keys (years apart, ties, empty gaps,
huge sizes, names sharing long prefixes) and however the remembered first-page edge has gone stale;
a cursor handed out under one strategy continues under the other."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docstore_metadata.adapters.keyset import PlainKeyset, WindowedKeyset
from docstore_metadata.adapters.repositories import DocumentRepository
from docstore_metadata.domain.cursors import SORTS
from docstore_metadata.domain.documents import EPOCH, SearchCriteria, search_keys

pytestmark = pytest.mark.integration

both_listings = pytest.mark.parametrize("metadata", ["windowed", "keyset"], indirect=True)

NOW = datetime.now(UTC).replace(microsecond=0)
STEMS = [
    "a",
    "A",
    "ab",
    "report",
    "report-1",
    "report-10",
    "report-100",
    "Report-2",
    "zeta",
    "émile",
    "日本",
    "report-1000-final",
    "~tilde",
    "0001",
    "x" * 200,
]


def _doc(account: str, rng: random.Random, i: int) -> dict[str, Any]:
    name = f"{rng.choice(STEMS)}{rng.choice(['', '-' + str(i), str(i % 3)])}.{rng.choice(['pdf', 'txt'])}"
    when = rng.choice(
        [
            NOW - timedelta(seconds=rng.randint(0, 120)),  # a burst right now
            NOW - timedelta(days=rng.randint(1, 40)),
            datetime(2001, 5, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 3)),  # long ago, with ties
            NOW - timedelta(days=700),  # one instant shared by many
        ]
    )
    return {
        "_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "account_id": account,
        "name": name,
        **search_keys(name),
        "title": None,
        "tags": sorted(rng.sample(["red", "green", "blue"], rng.randint(0, 2))),
        "path": rng.choice(["/", "/work"]),
        "created_at": when,
        "modified_at": when,
        "current_version": 1,
        "size": rng.choice([0, 1, 7, 4096, rng.randint(0, 10**7), 5 * 2**40, 2**41 + 3]),
        "sha256": "0" * 64,
        "content_type": rng.choice(["application/pdf", "text/plain"]),
        "trashed": rng.random() < 0.1,
        "trashed_at": None,
        "purge_claimed_at": EPOCH,
    }


async def _pages(metadata: Any, url: str, limit: int, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(500):
        response = await metadata.get(url, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [d["document_id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("too many pages")


def _expected(docs: list[dict[str, Any]], field: str, order: str, keep: Any = lambda d: True) -> list[str]:
    chosen = [d for d in docs if keep(d)]
    return [d["_id"] for d in sorted(chosen, key=lambda d: (d[field], d["_id"]), reverse=order == "desc")]


@both_listings
async def test_every_sort_pages_exactly_through_windows_and_stale_edges(metadata: Any) -> None:
    rng = random.Random(11)
    collection = metadata.db["documents"]
    docs = [_doc(metadata.account_id, rng, i) for i in range(160)]
    await collection.insert_many(docs + [_doc("someone-else", rng, i) for i in range(40)])

    async def check(limit: int) -> None:
        for sort, field in SORTS.items():
            for order in ("asc", "desc"):
                for trashed, path in ((False, None), (True, None), (False, "/work")):
                    params: dict[str, Any] = {"sort": sort, "order": order, "trashed": str(trashed).lower()}
                    if path:
                        params["path"] = path
                    got = await _pages(metadata, "/documents", limit, **params)
                    want = _expected(
                        docs,
                        field,
                        order,
                        lambda d, t=trashed, p=path: d["trashed"] == t and (p is None or d["path"] == p),
                    )
                    if got != want:
                        byid = {d["_id"]: d for d in docs}
                        padded = zip(got + [None] * 999, want + [None] * 999, strict=False)
                        diff = next(i for i, (a, b) in enumerate(padded) if a != b)

                        def show(ids: list[str], diff: int = diff, field: str = field) -> list[Any]:
                            return [
                                (byid[x][field], x[:6]) if x in byid else x for x in ids[max(diff - 2, 0) : diff + 3]
                            ]

                        raise AssertionError(
                            (sort, order, trashed, path, limit, len(got), len(want), diff, show(got), show(want))
                        )

    await check(7)  # first pages remember their edge
    if metadata.settings.listing_strategy == "windowed":
        await check(7)  # ...and start from it (a plain keyset remembers nothing: the same pages again)
    # The edges go stale: documents appear beyond and before them, and some of the first ones go.
    first_ones = {d["_id"] for d in sorted(docs, key=lambda d: d["name_lower"])[:5]}
    await collection.delete_many({"_id": {"$in": list(first_ones)}})
    docs = [d for d in docs if d["_id"] not in first_ones]
    extra = [_doc(metadata.account_id, rng, 1000 + i) for i in range(30)]
    for d in extra[:10]:
        d.update(
            name="!first.txt",
            **search_keys("!first.txt"),
            size=0,
            created_at=EPOCH + timedelta(days=1),
            modified_at=NOW,
        )
    await collection.insert_many(extra)
    docs += extra
    await check(5)


@both_listings
async def test_searches_page_exactly_through_windows(metadata: Any) -> None:
    rng = random.Random(12)
    collection = metadata.db["documents"]
    docs = [_doc(metadata.account_id, rng, i) for i in range(160)]
    await collection.insert_many(docs + [_doc("someone-else", rng, i) for i in range(40)])
    live = [d for d in docs if not d["trashed"]]
    day = timedelta(days=1)
    cases: list[tuple[dict[str, Any], str, str, Any]] = [
        ({"tags": "red"}, "modified_at", "desc", lambda d: "red" in d["tags"]),
        ({"tags": "red,blue"}, "modified_at", "desc", lambda d: {"red", "blue"} <= set(d["tags"])),
        ({"content_type": "text/plain"}, "modified_at", "desc", lambda d: d["content_type"] == "text/plain"),
        (
            {"modified_from": (NOW - 30 * day).isoformat()},
            "modified_at",
            "desc",
            lambda d: d["modified_at"] >= NOW - 30 * day,
        ),
        (
            {"modified_to": (NOW - 30 * day).isoformat()},
            "modified_at",
            "desc",
            lambda d: d["modified_at"] < NOW - 30 * day,
        ),
        (
            {"created_from": (NOW - 800 * day).isoformat(), "created_to": (NOW - 10 * day).isoformat()},
            "created_at",
            "desc",
            lambda d: NOW - 800 * day <= d["created_at"] < NOW - 10 * day,
        ),
        ({"name": "report"}, "name_lower", "asc", lambda d: d["name_lower"].startswith("report")),
        ({"name": "REPORT-1"}, "name_lower", "asc", lambda d: d["name_lower"].startswith("report-1")),
        ({"name": "port-1", "name_match": "substring"}, "name_lower", "asc", lambda d: "port-1" in d["name_lower"]),
    ]
    for params, field, order, keep in cases:
        want = _expected(live, field, order, keep)
        assert want, params
        for limit in (3, 50):
            assert await _pages(metadata, "/documents/search", limit, **params) == want, (params, limit)


async def test_auto_picks_by_server_and_cursors_carry_over_between_strategies(metadata: Any) -> None:
    db = metadata.db
    # "auto" (the harness's default) probes buildInfo: SecantusDB names itself there.
    info = await db.client.admin.command("buildInfo")
    assert metadata.services.listing.name == ("windowed" if "secantusVersion" in info else "keyset")

    rng = random.Random(13)
    docs = [_doc(metadata.account_id, rng, i) for i in range(60)]
    await metadata.db["documents"].insert_many(docs)
    live = [d for d in docs if not d["trashed"]]
    repos = [DocumentRepository(db, WindowedKeyset(db)), DocumentRepository(db, PlainKeyset(db))]

    async def alternating(first: int, read: Any) -> list[str]:
        """Every page, each from the other strategy than the page before, with its cursor."""
        ids: list[str] = []
        cursor = None
        for turn in range(first, first + 200):
            rows, cursor = await read(repos[turn % 2], cursor)
            ids += [row["_id"] for row in rows]
            if cursor is None:
                return ids
        raise AssertionError("too many pages")

    for first in (0, 1):
        for sort, field in SORTS.items():
            for order in ("asc", "desc"):
                got = await alternating(
                    first,
                    lambda repo, cursor, s=sort, o=order: repo.page(
                        metadata.account_id, sort=s, order=o, limit=7, cursor=cursor
                    ),
                )
                assert got == _expected(live, field, order), (first, sort, order)
        for criteria, field, order, keep in (
            (SearchCriteria(name="report"), "name_lower", "asc", lambda d: d["name_lower"].startswith("report")),
            (SearchCriteria(tags=("red",)), "modified_at", "desc", lambda d: "red" in d["tags"]),
        ):
            got = await alternating(
                first, lambda repo, cursor, c=criteria: repo.search(metadata.account_id, c, limit=4, cursor=cursor)
            )
            assert got == _expected(live, field, order, keep), (first, criteria)
