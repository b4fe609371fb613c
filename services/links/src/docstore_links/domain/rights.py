"""What a link needs to know of its document, and from whom: metadata owns documents, shares and
each account's projection, so it answers, at each link's creation and use, what one account may do
with one document now (`Grant`, from `adapters/metadata.py`). Also the refusals metadata gave for the
same requests before links moved out of it (same problem types and messages). Link passwords are
hashed as account passwords are, by `docstore_kit.passwords`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from docstore_kit.errors import Forbidden, NotFound

Access = Literal["owner", "edit", "view"]


@dataclass(frozen=True)
class Served:
    """The stored version a link gives: its number, size and type, and, when asked for, a signed
    GET of its preview (the link's page) or of its bytes (a download)."""

    number: int
    size: int
    content_type: str
    preview_url: str | None = None
    download_url: str | None = None


@dataclass(frozen=True)
class Grant:
    """An account's right to a document now, as metadata answered: `access` (the owner; the
    permission of its share; None: it may not see the document, e.g. a grantee once it is trashed),
    the document's facts, whether the owner's and that account's accounts
    are both still active, whether that account's address is verified, and the version asked for
    (None: no such version, e.g. pruned)."""

    document_id: str
    owner_id: str
    name: str
    trashed: bool
    current_version: int
    access: Access | None
    accounts_active: bool
    verified: bool
    served: Served | None = None

    def document(self) -> Mapping[str, Any]:
        """The document as the link rules read it (`links.check_usable`, `links.new_link`)."""
        return {
            "_id": self.document_id,
            "account_id": self.owner_id,
            "name": self.name,
            "trashed": self.trashed,
            "current_version": self.current_version,
        }


class DocumentNotFound(NotFound):
    """The document does not exist, or the caller may not see it (both 404, alike; as metadata)."""

    def __init__(self, document_id: str) -> None:
        super().__init__("This document could not be found. It may have been deleted, or it is not shared with you.")
        self.document_id = document_id


class VersionNotFound(NotFound):
    def __init__(self, version: int | None) -> None:
        super().__init__(
            f"Version {version} of this document could not be found." if version else "This version could not be found."
        )
        self.version = version


class OwnerOnly(Forbidden):
    """The caller can see the document but only its owner may do this (403)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"Only the owner of this document can {action}.")
        self.action = action


class EmailNotVerified(Forbidden):
    """Public links wait for a verified address (as sharing does)."""

    problem: ClassVar[str] = "email-not-verified"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"Please verify your e-mail address before you {action}. "
            "We sent you a link; you can ask for a new one in your account settings."
        )


def visible(grant: Grant | None, document_id: str) -> Grant:
    """The grant of an account that can see the document; `DocumentNotFound` otherwise."""
    if grant is None or grant.access is None:
        raise DocumentNotFound(document_id)
    return grant


def owned(grant: Grant | None, document_id: str, action: str) -> Grant:
    """The grant of the document's owner; `OwnerOnly` (403) for a grantee, 404 for anyone else."""
    found = visible(grant, document_id)
    if found.access != "owner":
        raise OwnerOnly(action)
    return found
