"""Multipart uploads: how a large file is cut into parts. Pure rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3's smallest part (except the last)
MAX_PART = 5 * 1024 * MIB  # S3's largest part
MAX_PARTS = 10_000  # S3's most parts per upload
MAX_OBJECT = 5 * 1024**4  # S3's largest object: 5 TiB


def part_size(size: int, preferred: int) -> int:
    """The part size for a file of `size` bytes: `preferred`, or larger when the file needs
    more than S3's 10,000 parts; a whole number of MiB, within S3's limits."""
    if size > MAX_OBJECT:
        raise ValueError(f"size: at most {MAX_OBJECT} bytes in one object")
    needed = math.ceil(size / MAX_PARTS)
    chosen = max(preferred, needed, MIN_PART)
    return min(MAX_PART, math.ceil(chosen / MIB) * MIB)


def part_count(size: int, part: int) -> int:
    return max(1, math.ceil(size / part))


def uniform_layout(size: int, part: int, count: int) -> dict[int, tuple[int, int]]:
    """(offset, length) of each part of an upload cut into equal parts (the last shorter)."""
    return {n: ((n - 1) * part, min(part, size - (n - 1) * part)) for n in range(1, count + 1)}


def session_layout(row: Mapping[str, Any]) -> dict[int, tuple[int, int]]:
    """A multipart session's parts as (offset, length): stored for a delta upload, else uniform."""
    if row.get("layout"):
        return {int(n): (int(o), int(length)) for n, o, length in row["layout"]}
    return uniform_layout(row["declared_size"], row["part_size"], row["part_count"])
