"""Events about folders. All are emitted by `metadata`, which owns documents and folders.

A folder is a place documents live in (`path` on each document, `/reports/2026`); metadata
keeps one row per folder so that folders exist when empty and can be renamed, moved, trashed
and restored as a whole. Consumers that only care about documents need none of these: a move
or a trash also emits the per-document events (`file.details-changed`, `file.trashed`,
`file.restored`) for every document it changes, so what they hold stays right.
"""

from __future__ import annotations

from docstore_events.base import Event


class FolderCreated(Event):
    """Emitted by `metadata` when the owner creates a folder (`POST /folders`). Folders made
    implicitly by an upload into a new path emit nothing: the upload's own events cover them."""

    type = "folder.created"

    folder_id: str
    path: str
    """The folder's full path, `/reports/2026`."""


class FolderMoved(Event):
    """Emitted by `metadata` when the owner renames a folder or moves it into another one
    (`PATCH /folders/{id}`), once, however many documents and folders it holds. Each live
    document inside also gets `file.details-changed` with its new `path`, as the rewrite reaches it."""

    type = "folder.moved"

    folder_id: str
    from_path: str
    """Where the folder was, `/reports/2026`."""
    path: str
    """Where it is now, `/archive/2026`."""
    documents: int = 0
    """How many live documents were inside when the move was asked for (counted just before)."""


class FolderTrashed(Event):
    """Emitted by `metadata` when the owner moves a folder, with everything inside, to the
    trash (`DELETE /folders/{id}`). Each document it took along also gets `file.trashed`."""

    type = "folder.trashed"

    folder_id: str
    path: str


class FolderRestored(Event):
    """Emitted by `metadata` when the owner restores a trashed folder as a whole
    (`POST /folders/{id}/restore`): the documents that went to the trash with it come back
    (each with `file.restored`); `path` is where it came back (numbered if its name was taken)."""

    type = "folder.restored"

    folder_id: str
    path: str
