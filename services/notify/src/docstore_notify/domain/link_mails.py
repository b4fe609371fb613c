"""Mails about the owner's public share links: the reminder a day before a link expires, and
"your link reached its download limit". Pure: what each event asks to tell, and what the mail says.

Both are one kind of notification, `share.links` (the preference `share_links`: instant, digest
or off, like every other kind); `params["mail"]` says which. They name the document and the
link's expiry or limit, and point to the web app's Links page (`<app>/#/links`), where the owner
extends, revokes or replaces a link. Never the link itself: its token is not in any event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from docstore_events.shares import ShareLinkExpiryNeared, ShareLinkRevoked, ShareLinkUsed
from docstore_notify.domain.message import SHARE_LINKS, Message, document_url, safe_filename
from docstore_notify.domain.notices import Notice
from docstore_notify.domain.templating import render_mail

EXPIRING = "expiring"
EXHAUSTED = "exhausted"
ENDED = "ended"
ENDED_BECAUSE = {
    "share-removed": "the share of the person who made it was removed or made view-only",
    "links-not-allowed": "you stopped letting editors create links to it",
    "account-deleted": "the account of the person who made it was deleted",
}
"""Why a link ended with the right it was made with (issue 33): the owner is told, since nobody
asked them and the people they gave it to will find it dead."""


def expiry_notice(event: ShareLinkExpiryNeared) -> Notice:
    """The owner's reminder that a link expires within a day."""
    return Notice(
        event.account_id,
        SHARE_LINKS,
        {
            "mail": EXPIRING,
            "link_id": event.link_id,
            "document_id": event.document_id,
            "name": event.document_name,
            "expires_at": event.expires_at.astimezone(UTC).isoformat(),
        },
    )


def exhausted_notice(event: ShareLinkUsed) -> Notice | None:
    """The owner's mail when a use brought a link to its download limit; None for any other use."""
    if not event.exhausted:
        return None
    return Notice(
        event.account_id,
        SHARE_LINKS,
        {
            "mail": EXHAUSTED,
            "link_id": event.link_id,
            "document_id": event.document_id,
            "name": event.document_name,
            "downloads": event.downloads,
            "download_limit": event.download_limit or event.downloads,
        },
    )


def revoked_notice(event: ShareLinkRevoked) -> Notice | None:
    """The owner's mail when a link ended because the right it was made with ended (a share
    removed, editors' links turned off, its maker's account deleted); None for a revocation the
    owner made or saw happen (revoked by hand, document trashed or deleted, the owner's own deletion)."""
    if event.reason not in ENDED_BECAUSE or (
        event.reason == "account-deleted" and event.created_by == event.account_id
    ):
        return None
    return Notice(
        event.account_id,
        SHARE_LINKS,
        {
            "mail": ENDED,
            "link_id": event.link_id,
            "document_id": event.document_id,
            "name": event.document_name,
            "reason": event.reason,
        },
    )


def links_url(app_url: str) -> str:
    """The web app's Links page (served by the gateway at `app_url`): the owner's links, each
    with Extend and Revoke."""
    return f"{app_url.rstrip('/')}/#/links"


def format_expiry(value: str) -> str:
    """An ISO timestamp as people read it, in UTC: "Tuesday 24 November 2026, 18:05 UTC"."""
    at = datetime.fromisoformat(value).astimezone(UTC)
    return f"{at:%A} {at.day} {at:%B %Y, %H:%M} UTC"


def render_link_mail(params: dict[str, Any], *, app_url: str = "") -> Message:
    """The message of a `share.links` notification (`params["mail"]`: expiring, exhausted or
    ended); the words are in `templates/share_link.*`."""
    name = safe_filename(str(params.get("name") or ""))
    document_id = str(params.get("document_id") or "")
    mail = params.get("mail")
    facts: dict[str, Any] = {
        "name": name,
        "links_url": links_url(app_url) if app_url else "",
        "file_url": document_url(app_url, document_id) if app_url and document_id else "",
    }
    if mail == ENDED:
        subject = f"Your DocStore link to “{name}” no longer works"
        because = ENDED_BECAUSE.get(str(params.get("reason") or ""), "the right it was made with ended")
        facts |= {"mail": ENDED, "because": because, "action": "To share the file again, create a new link"}
    elif mail == EXHAUSTED:
        subject = f"Your DocStore link to “{name}” reached its download limit"
        limit = int(params.get("download_limit") or params.get("downloads") or 0)
        facts |= {"mail": EXHAUSTED, "limit": limit, "action": "To share the file again, create a new link"}
    else:
        subject = f"Your DocStore link to “{name}” expires soon"
        when = format_expiry(str(params["expires_at"]))
        facts |= {"mail": EXPIRING, "when": when, "action": "To keep it working, extend it"}
    return render_mail("share_link", subject, **facts)
