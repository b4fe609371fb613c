"""Content-defined chunks of a file (FastCDC, through `pyfastcdc`), for delta uploads.

Boundaries depend on the bytes, not on offsets: a change in the middle of a file moves the
boundaries only around it, so the chunks before and after keep their sha256 and the server can
copy them from the previous version instead of receiving them again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pyfastcdc import FastCDC

MIB = 1024 * 1024
CHUNKED_FROM = 16 * MIB
"""Files from this size up are sent with their chunk map (a new version of one is a delta upload)."""
MOST_CHUNKS = 4096
"""The average chunk grows with the file so a map stays a few hundred kilobytes of JSON (the
gateway takes bodies up to 1 MB; the server takes at most 10,000 chunks)."""


def average_for(size: int) -> int:
    """The average chunk size for a file of `size` bytes: 1 MiB, doubled while the file would
    have more than `MOST_CHUNKS` chunks, at most 4 MiB (FastCDC's largest average)."""
    average = MIB
    while size // average > MOST_CHUNKS and average < 4 * MIB:
        average *= 2
    return average


def chunk_map(path: Path) -> list[dict[str, Any]]:
    """The file's chunks, in order: `{offset, length, sha256}` each (the body the grant takes)."""
    return sha256_and_chunks(path)[1]


def sha256_and_chunks(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The file's sha256 and its chunk map from one read: the chunks come in order, so the whole
    file's digest is fed the same bytes (a changed large file was read and hashed twice, once
    by the scan and once for its map)."""
    average = average_for(path.stat().st_size)
    cdc = FastCDC(average, min_size=average // 4, max_size=average * 4)
    whole = hashlib.sha256()
    chunks = []
    for c in cdc.cut_file(path):
        whole.update(c.data)
        chunks.append({"offset": c.offset, "length": c.length, "sha256": hashlib.sha256(c.data).hexdigest()})
    return whole.hexdigest(), chunks
