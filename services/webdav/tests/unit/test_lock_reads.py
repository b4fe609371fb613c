"""A request's lock reads (adapters/stores.py): WsgiDAV walks a path's ancestors one lock query
each; within a request they are read in one query, and a lock written meanwhile is seen. A fake
collection that answers the storage's few query shapes and counts them."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from docstore_webdav.adapters import stores
from docstore_webdav.adapters.stores import LockStorageMongo, begin_request
from docstore_webdav.domain.locks import ancestors


def _matches(row: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, want in query.items():
        if key == "$or":
            if not any(_matches(row, q) for q in want):
                return False
        elif isinstance(want, dict):
            value = row.get(key)
            if "$in" in want and value not in want["$in"]:
                return False
            if "$gte" in want and not (value is not None and value >= want["$gte"]):
                return False
            if "$regex" in want and not (isinstance(value, str) and re.match(want["$regex"], value)):
                return False
        elif row.get(key) != want:
            return False
    return True


class Locks:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.finds = 0

    def find(self, query: dict[str, Any], projection: Any = None) -> list[dict[str, Any]]:
        self.finds += 1
        return [dict(row) for row in self.rows.values() if _matches(row, query)]

    def insert_one(self, row: dict[str, Any]) -> None:
        self.rows[row["_id"]] = dict(row)

    def delete_one(self, query: dict[str, Any]) -> Any:
        class Deleted:
            deleted_count = 1 if self.rows.pop(query["_id"], None) else 0

        return Deleted()


def storage() -> tuple[LockStorageMongo, Locks]:
    locks = Locks()
    return LockStorageMongo({"locks": locks}, max_seconds=600), locks  # type: ignore[arg-type]


def lock(store: LockStorageMongo, path: str, depth: str = "infinity") -> dict[str, Any]:
    return store.create(path, {"depth": depth, "type": "write", "scope": "exclusive", "principal": "p", "timeout": 60})


def walk(store: LockStorageMongo, path: str) -> list[list[Any]]:
    """What WsgiDAV asks for a write to `path`: the path, then each parent."""
    return [
        store.get_lock_list(root, include_root=True, include_children=False, token_only=True)
        for root in ancestors(path)
    ]


def test_ancestors_go_up_to_the_root() -> None:
    assert ancestors("/acc/f/a.txt") == ["/acc/f/a.txt", "/acc/f", "/acc", "/"]
    assert ancestors("/acc/") == ["/acc", "/"]
    assert ancestors("/") == ["/"]


def test_a_request_reads_a_path_and_its_ancestors_once() -> None:
    store, locks = storage()
    parent = lock(store, "/acc/f")
    begin_request()
    found = walk(store, "/acc/f/a.txt")
    assert found == [[], [parent["token"]], [], []]
    assert locks.finds == 1
    assert (
        store.get_lock_list("/acc/f", include_root=True, include_children=False, token_only=False)[0]["root"]
        == "/acc/f"
    )
    assert locks.finds == 1
    # Children are asked as before (a LOCK's or a depth-infinity write's conflicts).
    assert store.get_lock_list("/acc", include_root=False, include_children=True, token_only=True) == [parent["token"]]
    assert locks.finds == 2


def test_a_lock_written_during_the_request_is_seen_and_a_new_request_reads_again() -> None:
    store, locks = storage()
    begin_request()
    assert walk(store, "/acc/f/a.txt") == [[], [], [], []]
    made = lock(store, "/acc/f/a.txt", depth="0")
    assert walk(store, "/acc/f/a.txt")[0] == [made["token"]]
    assert locks.finds == 2
    store.delete(made["token"])
    assert walk(store, "/acc/f/a.txt")[0] == []
    begin_request()
    other = lock(store, "/acc", depth="infinity")
    assert walk(store, "/acc/g")[1] == [other["token"]]


def test_an_expired_lock_read_earlier_in_the_request_is_not_returned() -> None:
    store, locks = storage()
    made = lock(store, "/acc/f")
    begin_request()
    assert walk(store, "/acc/f")[0] == [made["token"]]
    next(iter(stores._request.roots["/acc/f"]))["expire"] = time.time() - 1
    assert walk(store, "/acc/f")[0] == []


def test_a_thread_that_began_no_request_reads_every_time() -> None:
    store, locks = storage()
    lock(store, "/acc/f")
    counted: list[int] = []

    def elsewhere() -> None:
        walk(store, "/acc/f/a.txt")
        counted.append(locks.finds)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert counted == [4]
