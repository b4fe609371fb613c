"""The "NAME shared “file” with you" mail (kind `share.received`, issue 37): the person a document
was shared with is told who shared what, and may they only view or also edit, with the web app's
Shared page to open it. Pure. Never a link that acts by itself: opening the page needs a login."""

from __future__ import annotations

from typing import Any

from docstore_events import ShareCreated
from docstore_notify.domain.message import SHARE_RECEIVED, Message, safe_filename
from docstore_notify.domain.notices import Notice
from docstore_notify.domain.templating import render_mail


def share_received_notice(event: ShareCreated) -> Notice:
    """The grantee's notice of a new share (a change of permission emits no `share.created`)."""
    return Notice(
        event.grantee_id,
        SHARE_RECEIVED,
        {
            "document_id": event.document_id,
            "name": event.document_name,
            "by": event.owner_username,
            "permission": event.permission,
        },
    )


def shared_url(app_url: str) -> str:
    return f"{app_url.rstrip('/')}/#/shared" if app_url else ""


def render_share_mail(params: dict[str, Any], *, app_url: str = "") -> Message:
    """The "NAME shared “file” with you" mail (`templates/share_received.*`)."""
    name = safe_filename(str(params.get("name") or "a file"))
    by = safe_filename(str(params.get("by") or "Someone"))
    return render_mail(
        "share_received",
        f"{by} shared “{name}” with you",
        name=name,
        by=by,
        edit=params.get("permission") == "edit",
        shared_url=shared_url(app_url),
    )
