"""The client's state in `LOCAL_DIR/.docstore/state.db` (SQLite): the last synced state of each
file with its hash cache (size, mtime), the remote snapshot kept up to date from the change feed,
the feed cursor, and multipart uploads under way (so a killed run resumes them)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from docstore_sync.domain.ignore import STATE_DIR
from docstore_sync.domain.plan import BaseFile, RemoteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    document_id TEXT, version INTEGER
);
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remote (
    document_id TEXT PRIMARY KEY, path TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    path TEXT PRIMARY KEY, upload_id TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    document_id TEXT NOT NULL, copied_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY);
"""


class PendingUpload(NamedTuple):
    upload_id: str
    sha256: str
    size: int
    document_id: str
    copied_bytes: int


class State:
    """One folder's state. Thread-safe enough for one sync: every write is its own transaction."""

    def __init__(self, root: Path) -> None:
        folder = root / STATE_DIR
        folder.mkdir(exist_ok=True)
        self.path = folder / "state.db"
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL: a commit costs no fsync; a power cut may lose the last commits, never
        # the database's consistency (a lost record only makes the next run hash or compare again).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(uploads)")}
        if "copied_bytes" not in columns:  # a state written by an earlier client
            self.db.execute("ALTER TABLE uploads ADD COLUMN copied_bytes INTEGER NOT NULL DEFAULT 0")
        self.lock = threading.RLock()

    def _x(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement under the lock (transfers run in threads), its rows fetched."""
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.db.close()

    # --- meta ---------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        rows = self._x("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def put(self, key: str, value: str) -> None:
        self._x("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def initialised(self) -> bool:
        return self.get("cursor") is not None

    def mark_synced(self, summary: dict[str, object]) -> None:
        self.put("last_sync", json.dumps({"at": time.time(), "summary": summary}))

    # --- base and hash cache -----------------------------------------------------------------
    def base(self) -> dict[str, BaseFile]:
        rows = self._x("SELECT path, sha256, document_id, version FROM files")
        return {p: BaseFile(s, d, v) for p, s, d, v in rows}

    def record(
        self, path: str, sha256: str, size: int, mtime_ns: int, document_id: str | None, version: int | None
    ) -> None:
        self._x(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (path, sha256, size, mtime_ns, document_id, version),
        )
        self.cache_hash(path, size, mtime_ns, sha256)

    def record_many(self, rows: list[tuple[str, str, int, int, str | None, int | None]]) -> None:
        """`record` for many (path, sha256, size, mtime_ns, document_id, version) in one transaction."""
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany(
                "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", [(p, n, m, s) for p, s, n, m, _, _ in rows]
            )
            self.db.execute("COMMIT")

    def forget(self, path: str) -> None:
        self._x("DELETE FROM files WHERE path = ?", (path,))
        self._x("DELETE FROM hashes WHERE path = ?", (path,))

    def rename(self, old: str, new: str) -> None:
        """The last synced state of `old` is now `new`'s (a move; nothing when `old` has none)."""
        with self.lock:
            self.db.execute("BEGIN")
            self.db.execute(
                "DELETE FROM files WHERE path = ? AND EXISTS (SELECT 1 FROM files WHERE path = ?)", (new, old)
            )
            self.db.execute("UPDATE files SET path = ? WHERE path = ?", (new, old))
            self.db.execute("UPDATE OR REPLACE hashes SET path = ? WHERE path = ?", (new, old))
            self.db.execute("COMMIT")

    def hash_cache(self) -> dict[str, tuple[int, int, str]]:
        rows = self._x("SELECT path, size, mtime_ns, sha256 FROM hashes")
        return {p: (size, mtime, sha) for p, size, mtime, sha in rows}

    def cache_hashes(self, rows: list[tuple[str, int, int, str]]) -> None:
        """Many (path, size, mtime_ns, sha256) in one transaction (a first scan hashes everything)."""
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", rows)
            self.db.execute("COMMIT")

    def cache_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        self._x("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", (path, size, mtime_ns, sha256))

    def rename_prefix(self, old: str, new: str) -> None:
        """A folder renamed: the last synced state, hashes and remote snapshot of everything
        under `old/` are now under `new/` (one transaction, whatever the count)."""
        with self.lock:
            self.db.execute("BEGIN")
            for table in ("files", "hashes", "remote"):
                self.db.execute(
                    f"UPDATE OR REPLACE {table} SET path = ? || substr(path, ?) WHERE substr(path, 1, ?) = ?",  # noqa: S608
                    (new + "/", len(old) + 2, len(old) + 1, old + "/"),
                )
            self.db.execute(
                "UPDATE OR REPLACE folders SET path = ? || substr(path, ?) WHERE path = ? OR substr(path, 1, ?) = ?",
                (new, len(old) + 1, old, len(old) + 1, old + "/"),
            )
            self.db.execute("COMMIT")

    # --- folders known on both sides (empty ones sync too) ------------------------------------
    def folders(self) -> set[str]:
        return {row[0] for row in self._x("SELECT path FROM folders")}

    def add_folders(self, paths: list[str]) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO folders VALUES (?)", [(p,) for p in paths])
            self.db.execute("COMMIT")

    def drop_folders_under(self, path: str) -> None:
        self._x("DELETE FROM folders WHERE path = ? OR substr(path, 1, ?) = ?", (path, len(path) + 1, path + "/"))

    def forget_under(self, path: str) -> None:
        """The last synced state and hashes of everything under `path/` (a folder trashed from here)."""
        for table in ("files", "hashes"):
            self._x(f"DELETE FROM {table} WHERE substr(path, 1, ?) = ?", (len(path) + 1, path + "/"))  # noqa: S608

    def drop_remote_under(self, path: str) -> None:
        """The remote snapshot forgets every document under `path/` (a folder trashed)."""
        self._x("DELETE FROM remote WHERE substr(path, 1, ?) = ?", (len(path) + 1, path + "/"))

    # --- remote snapshot --------------------------------------------------------------------
    def remote(self) -> dict[str, RemoteFile]:
        rows = self._x("SELECT document_id, path, version, sha256 FROM remote")
        return {p: RemoteFile(d, v, s) for d, p, v, s in rows}

    def set_remote(self, path: str, remote: RemoteFile) -> None:
        self._x("DELETE FROM remote WHERE path = ? AND document_id != ?", (path, remote.document_id))
        self._x(
            "INSERT OR REPLACE INTO remote VALUES (?, ?, ?, ?)",
            (remote.document_id, path, remote.version, remote.sha256),
        )

    def set_remote_many(self, rows: list[tuple[str, RemoteFile]]) -> None:
        """`set_remote` for many (path, remote) in one transaction."""
        with self.lock:
            self.db.execute("BEGIN")
            for path, remote in rows:
                self.db.execute("DELETE FROM remote WHERE path = ? AND document_id != ?", (path, remote.document_id))
                self.db.execute(
                    "INSERT OR REPLACE INTO remote VALUES (?, ?, ?, ?)",
                    (remote.document_id, path, remote.version, remote.sha256),
                )
            self.db.execute("COMMIT")

    def drop_remote(self, document_id: str) -> None:
        self._x("DELETE FROM remote WHERE document_id = ?", (document_id,))

    def move_remote(self, steps: list[tuple[str, str | None, RemoteFile | None]]) -> None:
        """Change-feed entries applied to the snapshot in order, in one transaction (a feed of
        thousands of entries was a commit each): (document_id, path, remote) each sets `path`
        to `remote`, or drops the document when `remote` is None."""
        with self.lock:
            self.db.execute("BEGIN")
            for document_id, path, remote in steps:
                if remote is None or path is None:
                    self.db.execute("DELETE FROM remote WHERE document_id = ?", (document_id,))
                    continue
                self.db.execute("DELETE FROM remote WHERE path = ? AND document_id != ?", (path, remote.document_id))
                self.db.execute(
                    "INSERT OR REPLACE INTO remote VALUES (?, ?, ?, ?)",
                    (remote.document_id, path, remote.version, remote.sha256),
                )
            self.db.execute("COMMIT")

    def replace_remote(self, remote: dict[str, RemoteFile]) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM remote")
            self.db.executemany(
                "INSERT OR REPLACE INTO remote VALUES (?, ?, ?, ?)",
                [(r.document_id, p, r.version, r.sha256) for p, r in remote.items()],
            )
            self.db.execute("COMMIT")

    # --- multipart uploads under way ---------------------------------------------------------
    def pending_upload(self, path: str) -> PendingUpload | None:
        rows = self._x("SELECT upload_id, sha256, size, document_id, copied_bytes FROM uploads WHERE path = ?", (path,))
        return PendingUpload(*rows[0]) if rows else None

    def start_upload(
        self, path: str, upload_id: str, sha256: str, size: int, document_id: str, copied_bytes: int = 0
    ) -> None:
        """A multipart upload under way; `copied_bytes`: what the server copied for a delta upload
        (a resumed run reports them as saved: the server's list of stored parts does not tell)."""
        self._x(
            "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
            (path, upload_id, sha256, size, document_id, copied_bytes),
        )

    def end_upload(self, path: str) -> None:
        self._x("DELETE FROM uploads WHERE path = ?", (path,))

    def uploads_under_way(self) -> int:
        return int(self._x("SELECT count(*) FROM uploads")[0][0])
