"""Sharing and following: who may see, edit or follow a document besides its owner.

Access is `owner`, `edit` (may upload new versions, which count toward the owner's quota)
or `view` (may list versions, download and follow). Only the owner renames, deletes,
restores or shares; others who can see the document get 403 for those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from docstore_kit.errors import Forbidden, Invalid, NotFound
from docstore_metadata.domain.documents import DocumentNotFound

Access = Literal["owner", "edit", "view"]
PERMISSIONS = ("view", "edit")


class NoAccess(DocumentNotFound):
    """The document does not exist, or the caller may not see it (both answer 404, alike)."""


class OwnerOnly(Forbidden):
    """The caller can see the document but only its owner may do this (403)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"Only the owner of this document can {action}.")
        self.action = action


class UnknownUser(NotFound):
    """Sharing with a username nobody has."""

    def __init__(self, username: str) -> None:
        super().__init__(f"Nobody is called {username} on DocStore. Check the spelling of the username.")
        self.username = username


class SharedWithOwner(Invalid):
    """Sharing a document with its own owner."""

    def __init__(self) -> None:
        super().__init__("You own this document already.")


@dataclass(frozen=True)
class Visible:
    document: Mapping[str, Any]
    access: Access


def access_to(
    document: Mapping[str, Any] | None, share: Mapping[str, Any] | None, account_id: str, document_id: str
) -> Visible:
    """The caller's access to `document` given their share of it (None: none); `NoAccess` when they
    have none. A trashed document is visible to its owner only."""
    if document is None:
        raise NoAccess(document_id)
    if document["account_id"] == account_id:
        return Visible(document, "owner")
    if share is None or document.get("trashed"):
        raise NoAccess(document_id)
    return Visible(document, cast(Access, share["permission"]))


def owner_only(found: Visible, action: str) -> Mapping[str, Any]:
    """The document if the caller owns it; `OwnerOnly` (403) for someone it is shared with."""
    if found.access != "owner":
        raise OwnerOnly(action)
    return found.document


def writable(found: Visible) -> Visible:
    """Upload may sign a new version for the owner and editors; a viewer is answered as a stranger."""
    if found.access == "view":
        raise NoAccess(str(found.document["_id"]))
    return found
