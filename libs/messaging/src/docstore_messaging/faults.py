"""Crash points: let a test kill a process at an exact line, once.

`DOCSTORE_CRASH_AT` names the point; `DOCSTORE_CRASH_MARKER` is a file created just
before the process exits, so the restarted process runs through. Unset, this costs
one dict lookup.
"""

from __future__ import annotations

import os
from pathlib import Path


def crashpoint(name: str) -> None:
    """Exit the process at once (no cleanup, like SIGKILL) if this is the chosen point."""
    if os.environ.get("DOCSTORE_CRASH_AT") != name:
        return
    marker = os.environ.get("DOCSTORE_CRASH_MARKER")
    if marker:
        if Path(marker).exists():
            return
        Path(marker).write_text(name)
    os._exit(137)
