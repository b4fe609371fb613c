"""Lock rules that do not need storage (pure): a lock's root, its lifetime, who is below whom."""

from __future__ import annotations

import math


def lock_root(path: str) -> str:
    """A lock's key: the internal path without a trailing slash ('/' stays)."""
    return path.rstrip("/") or "/"


def timeout_for(requested: float | str | None, max_seconds: int) -> int:
    """Seconds a lock lives: what the client asked, capped at `max_seconds`; infinity (-1),
    nothing or nonsense is the cap. Locks are short-lived, so a lost client holds nothing long."""
    try:
        value = float(requested) if requested is not None else -1.0
    except (TypeError, ValueError):
        value = -1.0
    if not math.isfinite(value) or value <= 0 or value > max_seconds:
        return max_seconds
    return max(1, int(value))


def is_child(parent: str, path: str) -> bool:
    """Whether `path` is strictly below `parent` (both lock roots)."""
    parent = lock_root(parent)
    return path != parent and path.startswith(parent.rstrip("/") + "/")


def ancestors(root: str) -> list[str]:
    """A lock root and every root above it, up to '/' (what WsgiDAV walks for a write's conflicts
    and a resource's indirect locks, one query each; here read in one)."""
    root = lock_root(root)
    found = [root]
    while root != "/":
        root = root.rsplit("/", 1)[0] or "/"
        found.append(root)
    return found
