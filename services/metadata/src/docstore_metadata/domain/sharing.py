"""Sharing and following: who may see, edit or follow a document besides its owner.

Access is `owner`, `edit` (may upload new versions, which count toward the owner's quota)
or `view` (may list versions, download and follow). Only the owner renames, deletes,
restores or shares; others who can see the document get 403 for those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

from docstore_kit.errors import Conflict, Forbidden, Invalid, NotFound
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


class GranteeInOtherRegion(Conflict):
    """Sharing with an account whose home is another region (issue 37, D4).

    A document and its bytes live in its owner's region only, and a grantee lists and downloads
    from their own region, which holds no copy of it: such a share could never be opened. So it is
    refused with the truth, and the way that works today (a public link), instead of "nobody is
    called that" or a share that silently leads nowhere."""

    problem: ClassVar[str] = "grantee-in-other-region"
    title: ClassVar[str] = "The person is in another region"

    def __init__(self, username: str, home_region: str) -> None:
        super().__init__(
            f"{username}'s account is in another DocStore region ({home_region}), and documents cannot "
            f"be shared across regions yet. Send {username} a public link to this document instead."
        )
        self.username = username
        self.home_region = home_region

    def extra(self) -> dict[str, Any]:
        return {"username": self.username, "home_region": self.home_region}


class SharedWithOwner(Invalid):
    """Sharing a document with its own owner."""

    def __init__(self) -> None:
        super().__init__("You own this document already.")


@dataclass(frozen=True)
class Visible:
    document: Mapping[str, Any]
    access: Access


def grantee_here(grantee: Mapping[str, Any] | None, username: str, region: str) -> Mapping[str, Any]:
    """The account a document may be shared with: one of this region (`region`; "" when unknown,
    as in tests of one region) that is not deleted. `UnknownUser` for nobody (or an account that no
    longer exists), `GranteeInOtherRegion` for a person whose home is elsewhere."""
    if grantee is None or grantee.get("status", "active") == "deleted":
        raise UnknownUser(username)
    home = str(grantee.get("home_region") or "")
    if region and home and home != region:
        raise GranteeInOtherRegion(str(grantee.get("username") or username), home)
    return grantee


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
