"""Which paths sync: `.docstoreignore` in gitignore syntax (through pathspec), plus the client's own
folder. Pure: the rules are given as text."""

from __future__ import annotations

from dataclasses import dataclass

import pathspec

STATE_DIR = ".docstore"
IGNORE_FILE = ".docstoreignore"
# Never synced whatever the rules say: the client's state and its half-written downloads.
ALWAYS = [f"/{STATE_DIR}/", "*.docstore-part"]


@dataclass(frozen=True)
class IgnoreRules:
    spec: pathspec.GitIgnoreSpec

    @classmethod
    def from_text(cls, text: str = "") -> IgnoreRules:
        """The rules of a `.docstoreignore` (gitignore syntax), plus the client's own folder."""
        return cls(pathspec.GitIgnoreSpec.from_lines([*ALWAYS, *text.splitlines()]))

    def ignored(self, path: str) -> bool:
        """True for a '/'-separated path relative to the synced folder that must not sync."""
        return self.spec.match_file(path)

    def keep(self, paths: dict[str, object]) -> dict[str, object]:
        return {p: v for p, v in paths.items() if not self.ignored(p)}
