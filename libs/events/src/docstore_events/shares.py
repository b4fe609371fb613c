"""Events about public share links. All are emitted by `metadata`, which owns documents and
their links. `account_id` is always the document's owner: one owner's link events stay in
order, and the owner's audit chain holds them. No event carries a link's token or password.
"""

from __future__ import annotations

from datetime import datetime

from docstore_events.base import Event


class ShareLinkCreated(Event):
    """Emitted by `metadata` when the owner (or an editor the owner allows) creates a public
    link to a document, or to one of its versions (`version` None: the latest at download time)."""

    type = "share.link-created"

    link_id: str
    document_id: str
    document_name: str
    version: int | None = None
    expires_at: datetime
    protected: bool = False
    """Whether the link asks for a password (never the password itself)."""
    download_limit: int | None = None
    actor_id: str
    """Who created it: the owner or an editor."""


class ShareLinkUsed(Event):
    """Emitted by `metadata` each time a link hands out a download, after every check passed.

    `downloads` is the count including this use; `exhausted` is true when it reached
    `download_limit` (`notify` mails the owner then)."""

    type = "share.link-used"

    link_id: str
    document_id: str
    document_name: str
    version: int
    downloads: int
    download_limit: int | None = None
    exhausted: bool = False


class ShareLinkRevoked(Event):
    """Emitted by `metadata` when a link stops working before its expiry: revoked by a person
    (`reason` "revoked", `actor_id` set), killed because its document went to the trash or
    was deleted (`reason` "document-trashed" / "document-deleted"), or because the right it was
    made with ended: its creator's share was removed or made view-only ("share-removed"), the
    owner stopped letting editors make links ("links-not-allowed"), or the owner's or creator's
    account was deleted ("account-deleted"). `notify` tells the owner of the last three."""

    type = "share.link-revoked"

    link_id: str
    document_id: str
    reason: str = "revoked"
    actor_id: str | None = None
    document_name: str = ""
    """The document's name when the link was made (empty in events from before it was carried)."""
    created_by: str = ""
    """Who made the link (the owner or an editor; empty in events from before it was carried)."""


class ShareLinkExtended(Event):
    """Emitted by `metadata` when the owner moves a link's expiry (e.g. from the reminder mail)."""

    type = "share.link-extended"

    link_id: str
    document_id: str
    expires_at: datetime
    actor_id: str


class ShareLinkExpiryNeared(Event):
    """Emitted by `metadata`'s link sweeper, once, when a live link has 24 hours or less left.
    `notify` mails the owner a reminder with a way to extend it."""

    type = "share.link-expiry-neared"

    link_id: str
    document_id: str
    document_name: str
    expires_at: datetime


class ShareLinkExpired(Event):
    """Emitted by `metadata`'s link sweeper, once, when a link passed its expiry unrevoked."""

    type = "share.link-expired"

    link_id: str
    document_id: str
    expires_at: datetime
