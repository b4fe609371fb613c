"""Documents and versions: what a completed upload changes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VersionRecorded:
    """The outcome of recording an upload: which version it became."""

    document_id: str
    version: int
    is_new_document: bool


def next_version(current_version: int | None) -> int:
    return 1 if current_version is None else current_version + 1
