"""The service's own MongoDB database: locks (any replica sees them), dead properties (PROPPATCH)
and what a WebDAV upload learnt that metadata does not keep (X-OC-Mtime, SHA-1 and MD5 for
ownCloud's checksums). Keys are internal paths, `/{account_id}/...` (domain/paths.py)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from pymongo import ASCENDING, MongoClient, UpdateOne
from pymongo.database import Database
from pymongo.errors import PyMongoError

from docstore_kit.settings import mongodb_client_options
from docstore_webdav.domain.locks import ancestors, is_child, lock_root, timeout_for

_request = threading.local()


def begin_request() -> None:
    """A request starts on this thread (WsgiDAV answers each request on one thread): its lock
    reads start afresh. Until it ends, a lock root asked about once is not asked again, and the
    first question reads that root's ancestors too (WsgiDAV walks them one query each: a PUT
    and a PROPFIND asked 9 questions a file). Any lock written on this thread starts afresh again.
    A thread that began no request reads the database every time."""
    _request.roots = {}


class LockStorageMongo:
    """WsgiDAV's lock storage interface (`wsgidav.lock_man.lock_storage`), in MongoDB: one
    document per lock, expiring by `expire` (a TTL index removes them, reads skip them at once)."""

    def __init__(self, db: Database[Any], *, max_seconds: int) -> None:
        self.locks = db["locks"]
        self.max_seconds = max_seconds

    def __repr__(self) -> str:
        return "LockStorageMongo"

    def open(self) -> None:
        try:
            self.locks.create_index([("root", ASCENDING)])
            self.locks.create_index("expire_at", expireAfterSeconds=0)
        except PyMongoError:
            pass  # made on a later start; reads do not need them

    def close(self) -> None:
        pass

    def cleanup(self) -> None:
        _forget()
        self.locks.delete_many({"expire": {"$lt": time.time()}})

    def clear(self) -> None:
        _forget()
        self.locks.delete_many({})

    @staticmethod
    def _out(row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None or row["expire"] < time.time():
            return None
        lock = {k: v for k, v in row.items() if k not in ("_id", "expire_at")}
        lock["token"] = row["_id"]
        return lock

    def get(self, token: str) -> dict[str, Any] | None:
        return self._out(self.locks.find_one({"_id": token}))

    def create(self, path: str, lock: dict[str, Any]) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        lock["root"] = lock_root(path)
        timeout = timeout_for(lock.get("timeout"), self.max_seconds)
        lock["timeout"] = timeout
        lock["expire"] = time.time() + timeout
        token = f"opaquelocktoken:{uuid.uuid4()}"
        lock["token"] = token
        row = {k: v for k, v in lock.items() if k != "token"}
        row["_id"] = token
        row["expire_at"] = datetime.now(UTC) + timedelta(seconds=timeout)
        _forget()
        self.locks.insert_one(row)
        return lock

    def refresh(self, token: str, *, timeout: float) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        seconds = timeout_for(timeout, self.max_seconds)
        _forget()
        row = self.locks.find_one_and_update(
            {"_id": token},
            {
                "$set": {
                    "timeout": seconds,
                    "expire": time.time() + seconds,
                    "expire_at": datetime.now(UTC) + timedelta(seconds=seconds),
                }
            },
            return_document=True,
        )
        found = self._out(row)
        if found is None:
            raise ValueError("no such lock")
        return found

    def delete(self, token: str) -> bool:
        _forget()
        return self.locks.delete_one({"_id": token}).deleted_count == 1

    def locked_roots(self, roots: list[str]) -> set[str]:
        """Which of these lock roots hold a live lock of their own (one query for a PROPFIND page)."""
        found = self.locks.find({"root": {"$in": roots}, "expire": {"$gte": time.time()}}, {"root": 1})
        return {row["root"] for row in found}

    def get_lock_list(self, path: str, *, include_root: bool, include_children: bool, token_only: bool) -> list[Any]:
        root = lock_root(path)
        roots: dict[str, list[dict[str, Any]]] | None = getattr(_request, "roots", None)
        if roots is not None and include_root and not include_children:
            if root not in roots:
                above = ancestors(root)
                read: dict[str, list[dict[str, Any]]] = {r: [] for r in above}
                for row in self.locks.find({"root": {"$in": above}, "expire": {"$gte": time.time()}}):
                    read[row["root"]].append(row)
                roots.update(read)
            return [
                lock["token"] if token_only else lock for row in roots[root] if (lock := self._out(row)) is not None
            ]
        ors: list[dict[str, Any]] = []
        if include_root:
            ors.append({"root": root})
        if include_children:
            ors.append({"root": {"$regex": "^" + _regex_escape(root.rstrip("/") + "/")}})
        if not ors:
            return []
        found = []
        for row in self.locks.find({"$or": ors, "expire": {"$gte": time.time()}}):
            if row["root"] == root or (include_children and is_child(root, row["root"])):
                lock = self._out(row)
                if lock:
                    found.append(lock["token"] if token_only else lock)
        return found


def _forget() -> None:
    if getattr(_request, "roots", None) is not None:
        _request.roots = {}


def _regex_escape(text: str) -> str:
    import re

    return re.escape(text)


PRIMED = "docstore.dead"
"""environ key of a PROPFIND page's dead properties, read in one query (service_layer/propfind.py)."""


class PropertyStoreMongo:
    """WsgiDAV's property manager interface (dead properties, PROPPATCH), in MongoDB: one document
    per resource, its properties as a list (names are XML names: `{ns}local`)."""

    def __init__(self, db: Database[Any]) -> None:
        self.props = db["properties"]

    def __repr__(self) -> str:
        return "PropertyStoreMongo"

    def _row(self, url: str, environ: Any = None) -> dict[str, Any]:
        primed = environ.get(PRIMED) if isinstance(environ, dict) else None
        if primed is not None and url in primed:  # a PROPFIND page read them all at once
            return {"_id": url, "props": primed[url]}
        return self.props.find_one({"_id": url}) or {"_id": url, "props": []}

    def many(self, urls: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The dead properties of many resources in one query: {url: rows} (every url, [] for none)."""
        found: dict[str, list[dict[str, Any]]] = {url: [] for url in urls}
        for row in self.props.find({"_id": {"$in": urls}}):
            found[row["_id"]] = row["props"]
        return found

    def get_properties(self, norm_url: str, environ: Any = None) -> list[str]:
        return [p["name"] for p in self._row(norm_url, environ)["props"]]

    def get_property(self, norm_url: str, name: str, environ: Any = None) -> Any:
        for prop in self._row(norm_url, environ)["props"]:
            if prop["name"] == name:
                return prop["value"]
        return None

    def write_property(
        self, norm_url: str, name: str, property_value: Any, dry_run: bool = False, environ: Any = None
    ) -> None:
        if dry_run:
            return
        self.props.update_one({"_id": norm_url}, {"$pull": {"props": {"name": name}}}, upsert=True)
        self.props.update_one({"_id": norm_url}, {"$push": {"props": {"name": name, "value": property_value}}})

    def remove_property(self, norm_url: str, name: str, dry_run: bool = False, environ: Any = None) -> None:
        if not dry_run:
            self.props.update_one({"_id": norm_url}, {"$pull": {"props": {"name": name}}})

    def remove_properties(self, norm_url: str, environ: Any = None) -> None:
        self.props.delete_one({"_id": norm_url})

    def copy_properties(self, src_url: str, dest_url: str, environ: Any = None) -> None:
        row = self.props.find_one({"_id": src_url})
        if row:
            self.props.replace_one({"_id": dest_url}, {"_id": dest_url, "props": row["props"]}, upsert=True)

    def move_properties(self, src_url: str, dest_url: str, with_children: bool, environ: Any = None) -> None:
        rows = [self.props.find_one({"_id": src_url})]
        if with_children:
            prefix = src_url.rstrip("/") + "/"
            rows += list(self.props.find({"_id": {"$regex": "^" + _regex_escape(prefix)}}))
        for row in rows:
            if not row:
                continue
            new = dest_url + row["_id"][len(src_url) :]
            self.props.replace_one({"_id": new}, {"_id": new, "props": row["props"]}, upsert=True)
            self.props.delete_one({"_id": row["_id"]})


class FileFacts:
    """Per document version: the client's modification time (X-OC-Mtime) and the SHA-1 and MD5
    computed while the bytes streamed through (ownCloud's `oc:checksums`)."""

    def __init__(self, db: Database[Any]) -> None:
        self.facts = db["file_facts"]

    def record(self, account_id: str, document_id: str, sha256: str, facts: dict[str, Any]) -> None:
        """The facts of one document's current bytes (`record_many` for one)."""
        self.record_many(account_id, {document_id: (sha256, facts)})

    def record_many(self, account_id: str, facts: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """`record` for many documents (document id -> (sha256, facts)) in one bulk write."""
        if facts:
            self.facts.bulk_write(
                [
                    UpdateOne({"_id": f"{account_id}:{document_id}"}, {"$set": {"sha256": sha256, **kept}}, upsert=True)
                    for document_id, (sha256, kept) in facts.items()
                ],
                ordered=False,
            )

    def get(self, account_id: str, document_id: str, sha256: str) -> dict[str, Any]:
        """What is known of the document's current bytes (nothing when they changed elsewhere,
        except the mtime of a server-side copy or move, which the content did not change)."""
        row = self.facts.find_one({"_id": f"{account_id}:{document_id}"})
        if not row or row.get("sha256") != sha256:
            return {}
        return dict(row)

    def many(self, account_id: str, document_ids: list[str]) -> dict[str, dict[str, Any]]:
        ids = [f"{account_id}:{d}" for d in document_ids]
        return {row["_id"].split(":", 1)[1]: row for row in self.facts.find({"_id": {"$in": ids}})}


def sync_mongo(settings: Any) -> MongoClient[Any]:
    """The synchronous client WsgiDAV's worker threads use (its stores are called from them)."""
    return MongoClient(settings.mongodb_url, tz_aware=True, **mongodb_client_options(settings))


class PendingWrites:
    """PUTs answered before metadata shows them (domain/pending.py): one row per account and
    path, `{account_id}:{folder}/{name}`, kept until metadata shows the version or `seconds`
    pass (a TTL index removes it; reads skip an expired one at once)."""

    def __init__(self, db: Database[Any], *, seconds: float) -> None:
        self.rows = db["pending_writes"]
        self.seconds = seconds

    def open(self) -> None:
        try:
            self.rows.create_index([("account_id", ASCENDING), ("folder", ASCENDING)])
            self.rows.create_index([("account_id", ASCENDING), ("within", ASCENDING)])
            self.rows.create_index("expire_at", expireAfterSeconds=0)
        except PyMongoError:
            pass  # made on a later start; reads do not need them

    @staticmethod
    def _key(account_id: str, folder: str, name: str) -> str:
        return f"{account_id}:{folder.rstrip('/')}/{name}"

    def put(self, account_id: str, folder: str, name: str, write: dict[str, Any]) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        row = {
            **write,
            "account_id": account_id,
            "folder": folder,
            "name": name,
            "within": _within(folder),
            "written_at": now.isoformat(),
            "expire_at": now + timedelta(seconds=self.seconds),
        }
        self.rows.replace_one({"_id": self._key(account_id, folder, name)}, row, upsert=True)
        return {**row, "_id": self._key(account_id, folder, name)}

    def get(self, account_id: str, folder: str, name: str) -> dict[str, Any] | None:
        from datetime import UTC, datetime

        row = self.rows.find_one({"_id": self._key(account_id, folder, name)})
        if row is None or row["expire_at"] <= datetime.now(UTC):
            return None
        return dict(row)

    def under(self, account_id: str, folder: str, *, deep: bool = False) -> list[dict[str, Any]]:
        """The live pending writes in `folder` (`deep`: and in every folder below it)."""
        from datetime import UTC, datetime

        query = {"account_id": account_id, ("within" if deep else "folder"): folder}
        now = datetime.now(UTC)
        return [dict(row) for row in self.rows.find(query) if row["expire_at"] > now]

    def drop(self, row: dict[str, Any]) -> None:
        """Forget a pending write metadata now shows (only that write: not a newer one written
        to the same path meanwhile)."""
        self.rows.delete_one({"_id": row["_id"], "document_id": row["document_id"], "sha256": row["sha256"]})


def _within(folder: str) -> list[str]:
    """`folder` and every folder above it: `/a/b` is within `/`, `/a` and `/a/b`."""
    parts = [part for part in folder.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]
