"""The local folder as path -> sha256, hashing only files whose size or mtime moved since the
hash cache saw them. Symlinks and special files are skipped with a warning."""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docstore_sync.adapters.chunking import CHUNKED_FROM, sha256_and_chunks
from docstore_sync.domain.ignore import IGNORE_FILE, IgnoreRules

CHUNK = 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class LocalFile:
    sha256: str
    size: int
    mtime_ns: int
    chunks: list[dict[str, Any]] | None = None
    """The chunk map of a large file this scan read (`CHUNKED_FROM`), for its upload."""


@dataclass
class Scan:
    files: dict[str, LocalFile] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    hashed: int = 0
    empty_folders: list[str] = field(default_factory=list)
    """Folders with no file in them, at any depth: they do not sync yet (folders are not things on
    the server until issue 27); `status` and the sync's warnings say so."""

    def shas(self) -> dict[str, str]:
        return {p: f.sha256 for p, f in self.files.items()}


def load_rules(root: Path) -> IgnoreRules:
    try:
        return IgnoreRules.from_text((root / IGNORE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return IgnoreRules.from_text("")


def scan(
    root: Path,
    rules: IgnoreRules,
    cache: dict[str, tuple[int, int, str]],
    remember: Callable[[str, int, int, str], None] | None = None,
    *,
    hash_files: bool = True,
) -> Scan:
    """Walk `root` (not following links), skip ignored paths, hash what the cache cannot vouch for.

    `os.scandir` on strings: a folder's entries say their type without a system call, and a
    regular file costs one `lstat` (a re-sync of 10,000 files is mostly this walk)."""
    out = Scan()

    def walk(folder: str, prefix: str) -> bool:
        """Whether the folder holds a file (at any depth)."""
        holds = False
        try:
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda e: e.name)
        except OSError as error:
            out.warnings.append(f"{prefix or './'}: cannot be listed ({error.strerror}), skipped")
            return True
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if not rules.ignored(rel + "/"):
                    if walk(entry.path, rel + "/"):
                        holds = True
                    else:
                        out.empty_folders.append(rel)
                continue
            holds = True
            if rules.ignored(rel):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                out.warnings.append(f"{rel}: a symbolic link, skipped")
                continue
            if not stat.S_ISREG(st.st_mode):
                out.warnings.append(f"{rel}: not a regular file, skipped")
                continue
            # The state keys a file by its NFC name (`domain.plan.key_of`); an NFD spelling finds it there.
            cached = cache.get(rel) or cache.get(unicodedata.normalize("NFC", rel))
            chunks = None
            if not hash_files:
                continue
            if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
                sha = cached[2]
            else:
                try:
                    if st.st_size >= CHUNKED_FROM:  # it will be sent with its map: one read for both
                        sha, chunks = sha256_and_chunks(Path(entry.path))
                    else:
                        sha = sha256_of(Path(entry.path))
                except OSError as error:
                    out.warnings.append(f"{rel}: cannot be read ({error.strerror}), skipped")
                    continue
                out.hashed += 1
                if remember:
                    remember(rel, st.st_size, st.st_mtime_ns, sha)
            out.files[rel] = LocalFile(sha, st.st_size, st.st_mtime_ns, chunks)
        return holds

    walk(str(root), "")
    return out
