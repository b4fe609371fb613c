"""The local folder as path -> sha256, hashing only files whose size or mtime moved since the
hash cache saw them. Symlinks and special files are skipped with a warning."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class Scan:
    files: dict[str, LocalFile] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    hashed: int = 0

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
) -> Scan:
    """Walk `root` (not following links), skip ignored paths, hash what the cache cannot vouch for."""
    out = Scan()
    for folder, dirs, names in os.walk(root, followlinks=False):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        kept = []
        for d in dirs:
            rel = prefix + d
            full = Path(folder) / d
            if full.is_symlink():
                out.warnings.append(f"{rel}: a symbolic link, skipped")
            elif not rules.ignored(rel + "/"):
                kept.append(d)
        dirs[:] = sorted(kept)
        for name in sorted(names):
            rel = prefix + name
            if rules.ignored(rel):
                continue
            full = Path(folder) / name
            try:
                st = full.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                out.warnings.append(f"{rel}: a symbolic link, skipped")
                continue
            if not stat.S_ISREG(st.st_mode):
                out.warnings.append(f"{rel}: not a regular file, skipped")
                continue
            if st.st_size == 0:
                out.warnings.append(f"{rel}: empty, skipped (DocStore keeps no empty files)")
                continue
            cached = cache.get(rel)
            if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
                sha = cached[2]
            else:
                try:
                    sha = sha256_of(full)
                except OSError as error:
                    out.warnings.append(f"{rel}: cannot be read ({error.strerror}), skipped")
                    continue
                out.hashed += 1
                if remember:
                    remember(rel, st.st_size, st.st_mtime_ns, sha)
            out.files[rel] = LocalFile(sha, st.st_size, st.st_mtime_ns)
    return out
