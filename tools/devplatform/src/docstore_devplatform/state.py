"""Files through which the supervisor and the CLI talk: ``platform.pid`` and ``platform.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PID_FILE = "platform.pid"
STATE_FILE = "platform.json"


class StateFile:
    """Atomic JSON state shared by the supervisor and the CLI."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STATE_FILE
        self.state: dict[str, Any] = {"state": "starting", "progress": [], "supervisor_pid": os.getpid()}

    def update(self, **fields: Any) -> None:
        """Merge ``fields`` into the state and rewrite the file atomically."""
        self.state |= fields
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.path)

    def progress(self, line: str) -> None:
        """Append a progress line (shown by ``up`` while it waits)."""
        print(line, flush=True)
        self.update(progress=[*self.state["progress"], line])

    @staticmethod
    def read(data_dir: Path) -> dict[str, Any] | None:
        """The last state written, or None."""
        try:
            return json.loads((data_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None
