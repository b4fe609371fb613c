"""Which paths sync: `.docstoreignore` in gitignore syntax (through pathspec), plus the client's own
folder. Pure: the rules are given as text."""

from __future__ import annotations

from dataclasses import dataclass, field

import pathspec

STATE_DIR = ".docstore"
IGNORE_FILE = ".docstoreignore"
# Never synced whatever the rules say: the client's state and its half-written downloads.
ALWAYS = [f"/{STATE_DIR}/", "*.docstore-part"]


@dataclass(frozen=True)
class IgnoreRules:
    spec: pathspec.GitIgnoreSpec
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    """Answers already given: a sync asks about each path three times (the folder, the remote
    snapshot, the last synced state), and a match costs tens of microseconds (10,000 files)."""

    @classmethod
    def from_text(cls, text: str = "") -> IgnoreRules:
        """The rules of a `.docstoreignore` (gitignore syntax), plus the client's own folder."""
        return cls(pathspec.GitIgnoreSpec.from_lines([*ALWAYS, *text.splitlines()]))

    def ignored(self, path: str) -> bool:
        """True for a '/'-separated path relative to the synced folder that must not sync."""
        seen = self._seen.get(path)
        if seen is None:
            seen = self._seen[path] = bool(self.spec.match_file(path))
        return seen

    def keep(self, paths: dict[str, object]) -> dict[str, object]:
        return {p: v for p, v in paths.items() if not self.ignored(p)}
